package kernel

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// Trust connects the kernel to the inter-agent trust protocol (package
// iatp): agents with an identity ([WithIdentity]) sign every message they
// send on the bus, and a delivery whose signature verifies against the
// Registry is decided with its sender as policy's peer — id, trust and the
// labels of its registered manifest — instead of with no peer.
//
// The protocol's verdicts map onto policy through peer.labels["iatp.verdict"]
// (allow, warn, refuse): a peer whose score is 3 to 6 "needs an override",
// which a rule with effect approve on that label hands to the host's
// approver ([WithApprover]).
type Trust struct {
	// Registry is the kernel's source of truth about agents: their keys,
	// manifests and reputations, local and remote. Required. Scores are
	// computed from it, never taken from what a peer says.
	Registry *iatp.Registry
	// Opener verifies signed messages; nil makes one over Registry with the
	// kernel's clock and iatp's defaults (a two-minute replay window).
	Opener *iatp.Opener
	// RequireSigned refuses, by rule [RuleEnvelope], a delivery or a reply
	// that carries no signature. Without it an unsigned message is
	// delivered with no peer (peer.present false), as without WithIATP; a
	// message whose signature fails is refused either way.
	RequireSigned bool
	// Threshold is the score (0 to 10) below which an agent of this kernel
	// with an identity is sent SIGTRUST, which kills it, when
	// [Kernel.Report] or a policy violation lowers its reputation. Zero
	// means iatp.WarnAt (3): an agent the protocol would refuse is stopped.
	Threshold float64
	// Handshake are the options of every agent's iatp.Handshaker
	// ([Agent.Handshake]): the score and capabilities a peer must have,
	// pending-challenge and cache bounds. The kernel's clock is set first.
	Handshake []iatp.HandshakeOption
}

// HeaderEnvelope is the bus header that carries a message's signed
// envelope (iatp.Envelope.EncodeString). The kernel sets it on every
// message sent by an agent with an identity and removes any value agent
// code put there.
const HeaderEnvelope = "Agentos-Envelope"

// RuleEnvelope refuses a delivery or reply whose signature does not verify
// (or, with Trust.RequireSigned, that has none), before policy.
const RuleEnvelope = "kernel.envelope"

// MetaSigner is, on a delivery whose signature verified, the iatp id of the
// agent that signed it (the Sender header remains a claim).
const MetaSigner = "signer"

// MetaPayload says, on a message an agent sends, how policy sees its
// payload: "text" (action.args.payload holds it), "converted" (it was not
// valid UTF-8; action.args.payload holds it with each invalid byte replaced
// by U+FFFD) or "empty".
const MetaPayload = "payload"

// WithIATP enables signed messages and verified peers; see [Trust].
func WithIATP(t Trust) Option {
	return func(c *config) error {
		if t.Registry == nil {
			return fmt.Errorf("kernel: %w: trust needs a registry", agentos.ErrInvalid)
		}
		if t.Threshold < 0 || t.Threshold > 10 {
			return fmt.Errorf("kernel: %w: trust threshold %v is outside 0..10", agentos.ErrInvalid, t.Threshold)
		}
		if c.trust != nil {
			return fmt.Errorf("kernel: %w: more than one trust configuration given", agentos.ErrInvalid)
		}
		c.trust = &t
		return nil
	}
}

// WithIdentity gives the agent an iatp identity: the kernel signs every
// message it sends on the bus with it, and, when the kernel's
// Trust.Registry holds the identity's manifest, policy's agent.trust is its
// score / 10 and agent.labels carry its manifest's labels (the iatp.* keys
// of iatp.Peer.Labels over the labels given with [WithLabels]). Spawn fails
// without [WithIATP]. The identity's private key stays with the kernel:
// agent code cannot sign with it.
func WithIdentity(id *iatp.Identity) AgentOption {
	return func(c *agentConfig) error {
		if id == nil {
			return fmt.Errorf("kernel: %w: nil identity", agentos.ErrInvalid)
		}
		c.identity = id
		return nil
	}
}

//go:embed privacy.yaml
var privacyYAML []byte

// PrivacyName is the name of the privacy-guard policy document.
const PrivacyName = "kernel-privacy.yaml"

// PrivacyGuards returns the privacy-guard policy document: a social
// security number sent anywhere but to a verified peer with ephemeral
// retention, and a card number sent to a peer that keeps it permanently or
// whose retention is unknown (a topic, an unsigned sender), are refused.
// The kernel loads it with the [Baseline], and [WithPrivacyGuards] adds it
// to a policy of one's own.
func PrivacyGuards() []byte { return append([]byte(nil), privacyYAML...) }

// WithPrivacyGuards adds the [PrivacyGuards] document to the policy
// documents given with [WithPolicyFile], [WithPolicyDir] or
// [WithPolicySource] (with no policy option, the baseline already holds
// it). It cannot extend an Evaluator given with [WithPolicy]: New then
// fails.
func WithPrivacyGuards() Option {
	return func(c *config) error {
		c.privacy = true
		return nil
	}
}

// trustState is the kernel's trust wiring; nil without WithIATP.
type trustState struct {
	reg       *iatp.Registry
	opener    *iatp.Opener
	require   bool
	threshold float64
	handshake []iatp.HandshakeOption
}

func newTrustState(t *Trust, now func() time.Time) *trustState {
	ts := &trustState{reg: t.Registry, opener: t.Opener, require: t.RequireSigned, threshold: t.Threshold, handshake: t.Handshake}
	if ts.opener == nil {
		ts.opener = iatp.NewOpener(t.Registry, iatp.WithOpenerClock(now))
	}
	if ts.threshold == 0 {
		ts.threshold = iatp.WarnAt
	}
	return ts
}

// subjectNow is the agent as policy sees it now: with an identity that the
// registry holds, its trust is its current score / 10 and its labels carry
// the manifest's. An identity the registry refuses (unknown, revoked,
// expired) has trust 0.
func (a *Agent) subjectNow() policy.Subject {
	if a.ident == nil || a.k.trust == nil {
		return a.subject
	}
	s := a.subject
	p, ok := a.k.trust.reg.Lookup(a.ident.ID())
	if !ok {
		s.Trust = 0
		return s
	}
	s.Trust = p.Score.Total / 10 // zero for a revoked peer or an expired manifest
	s.Labels = maps.Clone(s.Labels)
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	maps.Copy(s.Labels, p.Labels())
	return s
}

// peerSubject is a verified sender as policy sees it.
func peerSubject(p iatp.Peer) *policy.Subject {
	return &policy.Subject{
		ID:     p.ID,
		Role:   p.Name,
		Trust:  p.Score.Total / 10,
		Labels: p.Labels(),
	}
}

// seal signs the message m that agent a sends on topic, replacing any
// envelope header agent code put there. Without an identity it only
// removes such a header.
func (a *Agent) seal(m *amb.Message, topic string) error {
	for k := range m.Headers {
		if strings.EqualFold(k, HeaderEnvelope) {
			delete(m.Headers, k)
		}
	}
	if a.ident == nil {
		return nil
	}
	env, err := iatp.Seal(a.ident, topic, payloadBytes(m.Payload), a.k.now())
	if err != nil {
		return fmt.Errorf("kernel: signing the message: %w", err)
	}
	if m.Headers == nil {
		m.Headers = map[string]string{}
	}
	m.Headers[HeaderEnvelope] = env.EncodeString()
	return nil
}

type signerKey struct{}

// Signer returns, inside a handler given to [Agent.Subscribe], the iatp
// peer that signed the message being delivered, as the kernel's registry
// knew it when the signature was verified; false when the message was not
// signed or the kernel has no [WithIATP].
func Signer(ctx context.Context) (iatp.Peer, bool) {
	p, ok := ctx.Value(signerKey{}).(iatp.Peer)
	return p, ok
}

// verify checks the envelope of a message arriving on topic for agent
// receiver, whose live subscription began at joined (zero: a reply, or a
// subscription that replays retained messages). It returns the verified
// peer (nil for an unsigned message that may pass) or the reason to refuse
// it. Replays are refused per receiver: every agent subscribed to a topic
// opens a broadcast once, and a live subscriber none that went by before
// it subscribed.
func (ts *trustState) verify(headers func(string) string, topic string, receiver agentos.AgentID, joined time.Time, payload []byte) (*iatp.Peer, error) {
	enc := headers(HeaderEnvelope)
	if enc == "" {
		if ts.require {
			return nil, fmt.Errorf("kernel: %w: the message is not signed", agentos.ErrUntrusted)
		}
		return nil, nil
	}
	env, err := iatp.DecodeEnvelopeString(enc)
	if err != nil {
		return nil, fmt.Errorf("kernel: the message's envelope: %w", err)
	}
	p, err := ts.opener.OpenJoined(env, topic, string(receiver), joined, payloadBytes(payload))
	if err != nil {
		return nil, fmt.Errorf("kernel: the message's envelope: %w", err)
	}
	return &p, nil
}

// payloadArgs shows policy a message's payload as action.args.payload and
// says how in action.meta.payload. The payload is not recorded (the outcome
// entry keeps its digest), so personal data a rule looks for does not end
// up in the flight recorder.
func payloadArgs(act *agentos.Action, payload []byte) {
	kind := "text"
	var text string
	switch {
	case len(payload) == 0:
		kind = "empty"
	case utf8.Valid(payload):
		text = string(payload)
	default:
		kind = "converted"
		text = strings.ToValidUTF8(string(payload), "\uFFFD")
	}
	act.Meta[MetaPayload] = kind
	act.Args = map[string]any{"payload": text}
}

// Report records a reputation event for agent id, which must have an
// identity ([WithIdentity]) that the kernel's Trust.Registry holds, and
// returns its new score. The event is recorded; when the score falls below
// Trust.Threshold the kernel sends the agent SIGTRUST, which kills it.
// Errors: agentos.ErrNotFound for an unknown agent, agentos.ErrInvalid for
// one without an identity or a kernel without [WithIATP], and the
// registry's errors (iatp.ErrUnknownPeer, iatp.ErrRevoked).
func (k *Kernel) Report(ctx context.Context, id agentos.AgentID, ev iatp.Event) (iatp.Score, error) {
	a := k.Agent(id)
	switch {
	case a == nil:
		return iatp.Score{}, fmt.Errorf("kernel: agent %q: %w", id, agentos.ErrNotFound)
	case k.trust == nil:
		return iatp.Score{}, fmt.Errorf("kernel: %w: no trust configuration (WithIATP)", agentos.ErrInvalid)
	case a.ident == nil:
		return iatp.Score{}, fmt.Errorf("kernel: %w: agent %q has no identity", agentos.ErrInvalid, id)
	}
	return a.report(ctx, ev, "reported by the host")
}

// report records ev against a's identity and enforces the threshold.
func (a *Agent) report(ctx context.Context, ev iatp.Event, why string) (iatp.Score, error) {
	k := a.k
	sc, err := k.trust.reg.Report(a.ident.ID(), ev)
	if err != nil {
		return sc, fmt.Errorf("kernel: agent %q: %w", a.id, err)
	}
	if _, rerr := k.appendEntry(context.WithoutCancel(ctx), recorder.Entry{
		Kind:    recorder.KindLifecycle,
		Agent:   a.id,
		Message: "reputation " + eventName(ev.Kind),
		Detail:  fmt.Sprintf("identity=%s score=%.2f verdict=%s; %s", a.ident.ID(), sc.Total, sc.Verdict, why),
	}); rerr != nil {
		k.log.Error("kernel: recording a reputation event", "agent", a.id, "err", rerr)
	}
	if sc.Total < k.trust.threshold && a.sig.Err() == nil {
		reason := fmt.Sprintf("trust score %.2f fell below %.2f", sc.Total, k.trust.threshold)
		if err := a.sig.Send(context.WithoutCancel(ctx), signals.SIGTRUST, reason); err != nil && !errors.Is(err, agentos.ErrKilled) {
			k.log.Error("kernel: sending SIGTRUST", "agent", a.id, "err", err)
		}
	}
	return sc, nil
}

func eventName(k iatp.EventKind) string {
	switch k {
	case iatp.Success:
		return "success"
	case iatp.Failure:
		return "failure"
	case iatp.Violation:
		return "violation"
	}
	return fmt.Sprintf("event %d", int(k))
}

// RecordEvent appends a host event to the flight recorder: what an adapter
// outside the syscall path saw that an auditor must find in the trail (an
// MCP tool quarantined after its definition changed, a peer revoked). It is
// a lifecycle entry with no agent, chained like every other entry.
// message is required; detail and severity are optional. Errors: those of
// the recorder, agentos.ErrInvalid for an empty message.
func (k *Kernel) RecordEvent(ctx context.Context, message, detail string, sev agentos.Severity) error {
	if message == "" {
		return fmt.Errorf("kernel: %w: an event needs a message", agentos.ErrInvalid)
	}
	_, err := k.appendEntry(context.WithoutCancel(ctx), recorder.Entry{
		Kind:     recorder.KindLifecycle,
		Message:  truncateString(strings.ToValidUTF8(message, "\uFFFD"), maxErrorRecorded),
		Detail:   truncateString(strings.ToValidUTF8(detail, "\uFFFD"), maxErrorRecorded),
		Severity: sev,
	})
	return err
}

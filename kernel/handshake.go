package kernel

import (
	"context"
	"fmt"
	"sync"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/iatp"
)

// Content types of the iatp handshake messages on the bus.
const (
	ContentTypeChallenge = "application/vnd.agentos.iatp-challenge"
	ContentTypeResponse  = "application/vnd.agentos.iatp-response"
)

// handshaker is the agent's iatp.Handshaker, made on first use: it holds
// the agent's key, which agent code never sees.
type handshaker struct {
	once sync.Once
	h    *iatp.Handshaker
	err  error
}

func (a *Agent) handshaker() (*iatp.Handshaker, error) {
	if a.k.trust == nil || a.ident == nil {
		return nil, fmt.Errorf("kernel: %w: agent %q has no identity (WithIdentity, WithIATP)", agentos.ErrInvalid, a.id)
	}
	a.hs.once.Do(func() {
		opts := append([]iatp.HandshakeOption{iatp.WithHandshakeClock(a.k.now)}, a.k.trust.handshake...)
		a.hs.h, a.hs.err = iatp.NewHandshaker(a.ident, a.k.trust.reg, opts...)
	})
	return a.hs.h, a.hs.err
}

// Handshake proves over the bus that peer — an iatp id the kernel's
// registry holds — is live and holds its registered key, and that the
// registry trusts it enough (Trust.Handshake options; by default a score of
// at least 7). The agent sends a challenge as a governed request on topic
// (content type [ContentTypeChallenge]; policy decides it as any request),
// where the peer's kernel answers with [Agent.ServeHandshakes]; the
// response is verified against the registry, never against what it
// carries. A mutual handshake is one each way; the request itself is signed
// with the agent's envelope, so the answering side knows who asked.
//
// Errors: agentos.ErrInvalid for an agent without an identity, those of
// [Agent.Request], and iatp's refusals (iatp.ErrUnknownPeer,
// iatp.ErrKeyMismatch, iatp.ErrInsufficientTrust, …), which match
// agentos.ErrUntrusted.
func (a *Agent) Handshake(ctx context.Context, topic, peer string) (iatp.Peer, error) {
	h, err := a.handshaker()
	if err != nil {
		return iatp.Peer{}, err
	}
	ch, err := h.NewChallenge(peer)
	if err != nil {
		return iatp.Peer{}, fmt.Errorf("kernel: handshake: %w", err)
	}
	enc, err := ch.Encode()
	if err != nil {
		return iatp.Peer{}, fmt.Errorf("kernel: handshake: %w", err)
	}
	reply, err := a.Request(ctx, topic, amb.Message{ContentType: ContentTypeChallenge, Payload: enc})
	if err != nil {
		return iatp.Peer{}, err
	}
	if reply.ContentType != ContentTypeResponse {
		return iatp.Peer{}, fmt.Errorf("kernel: handshake: %w: the answer has content type %q", agentos.ErrUntrusted, reply.ContentType)
	}
	resp, err := iatp.DecodeResponse(reply.Payload)
	if err != nil {
		return iatp.Peer{}, fmt.Errorf("kernel: handshake: %w", err)
	}
	p, err := h.Verify(resp)
	if err != nil {
		return iatp.Peer{}, fmt.Errorf("kernel: handshake: %w", err)
	}
	return p, nil
}

// ServeHandshakes answers the handshake challenges addressed to the agent's
// identity that arrive on topic, with a response signed by the kernel on
// the agent's behalf. Each challenge is a delivery and each answer a reply
// of the agent: both are governed and recorded. A message that is not a
// challenge, or one for another identity, is refused with an error (the bus
// dead-letters it). The subscription ends as [Agent.Subscribe]'s do.
func (a *Agent) ServeHandshakes(ctx context.Context, topic string) (*Subscription, error) {
	h, err := a.handshaker()
	if err != nil {
		return nil, err
	}
	return a.Subscribe(ctx, topic, func(ctx context.Context, d amb.Delivery) error {
		if !d.IsRequest() || d.ContentType != ContentTypeChallenge {
			return fmt.Errorf("kernel: handshake: %w: not a challenge (content type %q)", agentos.ErrInvalid, d.ContentType)
		}
		ch, err := iatp.DecodeChallenge(d.Payload)
		if err != nil {
			return fmt.Errorf("kernel: handshake: %w", err)
		}
		resp, err := h.Respond(ch)
		if err != nil {
			return fmt.Errorf("kernel: handshake: %w", err)
		}
		enc, err := resp.Encode()
		if err != nil {
			return fmt.Errorf("kernel: handshake: %w", err)
		}
		return d.Respond(ctx, amb.Message{ContentType: ContentTypeResponse, Payload: enc})
	})
}

package iatp

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

func TestManifestRoundTrip(t *testing.T) {
	id := detIdentity(t, 1)
	m := baseManifest(epoch.Add(500 * time.Millisecond))
	m.Capabilities = []string{"tool:sql.query", "bus:publish", "tool:sql.query"}
	m.Labels["quote"] = "a \"b\" \\ \u00e9\u2028<>&"
	sm := signed(t, id, m)
	require.Equal(t, []string{"bus:publish", "tool:sql.query"}, sm.Manifest.Capabilities, "sorted and de-duplicated")
	require.Equal(t, id.ID(), sm.Manifest.AgentID)
	require.Equal(t, ProtocolVersion, sm.Manifest.Version)
	require.NoError(t, sm.Verify(epoch.Add(time.Hour)))

	b, err := sm.Encode()
	require.NoError(t, err)
	back, err := DecodeManifest(b)
	require.NoError(t, err)
	require.Equal(t, sm, back)
	require.NoError(t, back.Verify(epoch.Add(time.Hour)))
	again, err := back.Encode()
	require.NoError(t, err)
	require.Equal(t, b, again)
	require.Contains(t, string(b), `"issued_at":"2026-03-01T12:00:00.5Z"`)
	require.Contains(t, string(b), `"undo_window_s":3600`)

	// Embedded in another document through encoding/json (which escapes
	// <, > and & and U+2028), it still decodes to the same manifest.
	doc, err := json.Marshal(map[string]any{"peer": sm})
	require.NoError(t, err)
	var wrap struct{ Peer SignedManifest }
	require.NoError(t, json.Unmarshal(doc, &wrap))
	require.Equal(t, sm, wrap.Peer)
	require.NoError(t, wrap.Peer.Verify(epoch.Add(time.Hour)))

	// An empty manifest (no capabilities, no labels, no name) round-trips too.
	m2 := baseManifest(epoch)
	m2.Name, m2.Capabilities, m2.Labels = "", nil, nil
	sm2 := signed(t, id, m2)
	b2, err := sm2.Encode()
	require.NoError(t, err)
	require.Contains(t, string(b2), `"capabilities":[]`)
	require.Contains(t, string(b2), `"labels":{}`)
	back2, err := DecodeManifest(b2)
	require.NoError(t, err)
	require.Equal(t, sm2, back2)
}

func TestManifestBitFlips(t *testing.T) {
	id := detIdentity(t, 1)
	sm := signed(t, id, baseManifest(epoch))
	b, err := sm.Encode()
	require.NoError(t, err)
	now := epoch.Add(time.Minute)
	for i := range len(b) * 8 {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		got, err := DecodeManifest(c)
		if err == nil {
			err = got.Verify(now)
		}
		require.Error(t, err, "byte %d bit %d", i/8, i%8)
		require.True(t, errors.Is(err, agentos.ErrInvalid) || errors.Is(err, agentos.ErrUntrusted), "%v", err)
	}
	// Every field of the decoded value, changed, breaks the signature.
	mutate := map[string]func(*Manifest){
		"name":         func(m *Manifest) { m.Name += "x" },
		"level":        func(m *Manifest) { m.TrustLevel = VerifiedPartner },
		"capabilities": func(m *Manifest) { m.Capabilities = append(m.Capabilities, "zz:all") },
		"reversible":   func(m *Manifest) { m.Reversibility.Level = ReversiblePartial },
		"undo":         func(m *Manifest) { m.Reversibility.UndoWindow += time.Second },
		"retention":    func(m *Manifest) { m.Privacy.Retention = RetentionEphemeral },
		"human":        func(m *Manifest) { m.Privacy.HumanInLoop = true },
		"training":     func(m *Manifest) { m.Privacy.TrainingConsent = true },
		"labels":       func(m *Manifest) { m.Labels = map[string]string{"team": "ops"} },
		"issued":       func(m *Manifest) { m.IssuedAt = m.IssuedAt.Add(-time.Nanosecond) },
		"expires":      func(m *Manifest) { m.Expires = m.Expires.Add(time.Hour) },
	}
	for name, f := range mutate {
		c := sm
		c.Manifest.Labels = cloneLabels(sm.Manifest.Labels)
		c.Manifest.Capabilities = append([]string(nil), sm.Manifest.Capabilities...)
		f(&c.Manifest)
		require.ErrorIs(t, c.Verify(now), ErrBadSignature, name)
	}
	other := detIdentity(t, 2)
	swapped := sm
	swapped.Manifest.PublicKey = other.PublicKey()
	require.ErrorIs(t, swapped.Verify(now), ErrKeyMismatch, "key of another agent under this id")
	swapped.Manifest.AgentID = other.ID()
	require.ErrorIs(t, swapped.Verify(now), ErrBadSignature, "another agent's id and key with this signature")
}

func TestDecodeManifestStrict(t *testing.T) {
	id := detIdentity(t, 1)
	sm := signed(t, id, baseManifest(epoch))
	b, err := sm.Encode()
	require.NoError(t, err)
	s := string(b)
	cases := map[string]string{
		"whitespace":      strings.Replace(s, `{"manifest":`, `{ "manifest":`, 1),
		"trailing space":  s + " ",
		"trailing doc":    s + "{}",
		"key order":       strings.Replace(s, `"name":"summarizer","privacy"`, `"privacy"`, 1),
		"unknown field":   strings.Replace(s, `{"manifest":`, `{"extra":1,"manifest":`, 1),
		"duplicate field": strings.Replace(s, `"name":"summarizer"`, `"name":"summarizer","name":"summarizer"`, 1),
		"escaped letter":  strings.Replace(s, `"summarizer"`, `"summ\u0061rizer"`, 1),
		"offset time":     strings.Replace(s, `"2026-03-01T12:00:00Z"`, `"2026-03-01T13:00:00+01:00"`, 1),
		"float window":    strings.Replace(s, `"undo_window_s":3600`, `"undo_window_s":3600.0`, 1),
		"bad level":       strings.Replace(s, `"trusted"`, `"Trusted"`, 1),
		"bad retention":   strings.Replace(s, `"session"`, `"forever"`, 1),
		"bad version":     strings.Replace(s, `"version":"1"`, `"version":"2"`, 1),
		"padded key":      strings.Replace(s, `","reversibility"`, `=","reversibility"`, 1),
		"not an object":   `[]`,
		"null":            `null`,
		"no manifest":     `{"signature":""}`,
		"invalid utf8":    strings.Replace(s, "summarizer", "summ\xffrizer", 1),
		"negative window": strings.Replace(s, `"undo_window_s":3600`, `"undo_window_s":-1`, 1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeManifest([]byte(in))
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	_, err = DecodeManifest(bytes.Repeat([]byte(" "), MaxManifestSize+1))
	require.ErrorIs(t, err, ErrTooLarge)
}

func TestManifestValidate(t *testing.T) {
	id := detIdentity(t, 1)
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "cap:" + strings.Repeat("a", i%100) + string(rune('a'+i/100))
		}
		return out
	}
	manyLabels := map[string]string{}
	for i := range MaxLabels + 1 {
		manyLabels[strings.Repeat("k", i+1)] = "v"
	}
	cases := map[string]func(*Manifest){
		"level":             func(m *Manifest) { m.TrustLevel = "admin" },
		"empty level":       func(m *Manifest) { m.TrustLevel = "" },
		"reversibility":     func(m *Manifest) { m.Reversibility.Level = "some" },
		"window with none":  func(m *Manifest) { m.Reversibility = Reversibility{Level: ReversibleNone, UndoWindow: time.Second} },
		"fractional window": func(m *Manifest) { m.Reversibility.UndoWindow = 1500 * time.Millisecond },
		"huge window":       func(m *Manifest) { m.Reversibility.UndoWindow = MaxUndoWindow + time.Second },
		"retention":         func(m *Manifest) { m.Privacy.Retention = "" },
		"long name":         func(m *Manifest) { m.Name = strings.Repeat("n", MaxNameLen+1) },
		"control in name":   func(m *Manifest) { m.Name = "a\nb" },
		"empty capability":  func(m *Manifest) { m.Capabilities = []string{""} },
		"space capability":  func(m *Manifest) { m.Capabilities = []string{"tool: x"} },
		"many capabilities": func(m *Manifest) { m.Capabilities = many(MaxCapabilities + 1) },
		"reserved label":    func(m *Manifest) { m.Labels = map[string]string{"iatp.level": "verified_partner"} },
		"label key":         func(m *Manifest) { m.Labels = map[string]string{"a b": "c"} },
		"label value":       func(m *Manifest) { m.Labels = map[string]string{"a": "\x00"} },
		"many labels":       func(m *Manifest) { m.Labels = manyLabels },
		"zero issued":       func(m *Manifest) { m.IssuedAt = time.Time{} },
		"expires first":     func(m *Manifest) { m.Expires = m.IssuedAt },
		"version":           func(m *Manifest) { m.Version = "0" },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			m := baseManifest(epoch)
			f(&m)
			_, err := SignManifest(id, m)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	m := baseManifest(epoch)
	m.AgentID = detIdentity(t, 2).ID()
	_, err := SignManifest(id, m)
	require.ErrorIs(t, err, ErrKeyMismatch)
	m = baseManifest(epoch)
	m.PublicKey = detIdentity(t, 2).PublicKey()
	_, err = SignManifest(id, m)
	require.ErrorIs(t, err, ErrKeyMismatch)
	_, err = SignManifest(nil, baseManifest(epoch))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = (SignedManifest{}).Encode()
	require.ErrorIs(t, err, ErrMalformed)
}

func TestManifestExpiry(t *testing.T) {
	sm := signed(t, detIdentity(t, 1), baseManifest(epoch))
	require.NoError(t, sm.Verify(epoch))
	require.NoError(t, sm.Verify(epoch.Add(-manifestClockSkew)), "a minute of skew")
	require.ErrorIs(t, sm.Verify(epoch.Add(-manifestClockSkew-time.Nanosecond)), ErrExpired)
	require.NoError(t, sm.Verify(sm.Manifest.Expires.Add(-time.Nanosecond)))
	require.ErrorIs(t, sm.Verify(sm.Manifest.Expires), ErrExpired)
	require.ErrorIs(t, sm.Verify(sm.Manifest.Expires), agentos.ErrUntrusted)
}

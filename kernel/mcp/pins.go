package mcp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds on a pin store.
const (
	MaxPins         = 10_000
	MaxPinFileBytes = 4 << 20
)

// Pin records that an operator (or the approval policy) approved one
// definition of a tool: its digest (see [Digest]).
type Pin struct {
	Digest     [32]byte
	ApprovedAt time.Time
	// By says who or what approved it: "operator", "trust-on-first-use",
	// "policy:clean"… Free text, at most 256 bytes.
	By string
}

// Pins is the store of approved tool definitions, keyed by the gateway's
// name of a tool ("github.create_issue"). It is in memory; [Pins.Save] and
// [LoadPins] write and read it as JSON so that an operator can review and
// approve definitions out of band:
//
//	{
//	  "version": 1,
//	  "pins": {
//	    "github.create_issue": {"sha256": "…64 hex digits…", "approvedAt": "2026-01-01T00:00:00Z", "by": "operator"}
//	  }
//	}
//
// One store may be shared by several upstreams. It is safe for concurrent
// use.
type Pins struct {
	mu sync.RWMutex
	m  map[string]Pin
}

// NewPins returns an empty store.
func NewPins() *Pins { return &Pins{m: map[string]Pin{}} }

// Get returns the pin of tool.
func (p *Pins) Get(tool string) (Pin, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	pin, ok := p.m[tool]
	return pin, ok
}

// Set pins tool to pin, replacing any earlier pin. It fails with an error
// wrapping [ErrPins] past [MaxPins] tools or for a name that is empty,
// longer than 256 bytes or not UTF-8.
func (p *Pins) Set(tool string, pin Pin) error {
	if err := checkPinName(tool); err != nil {
		return err
	}
	if len(pin.By) > 256 || !utf8.ValidString(pin.By) {
		return fmt.Errorf("%w: approver of %q: at most 256 bytes of UTF-8", ErrPins, tool)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[tool]; !ok && len(p.m) >= MaxPins {
		return fmt.Errorf("%w: more than %d pins", ErrPins, MaxPins)
	}
	p.m[tool] = pin
	return nil
}

// Delete removes the pin of tool: its next definition is judged as new.
func (p *Pins) Delete(tool string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, tool)
}

// Names returns the pinned tools' names, sorted.
func (p *Pins) Names() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Sorted(maps.Keys(p.m))
}

func checkPinName(tool string) error {
	if tool == "" || len(tool) > 256 || !utf8.ValidString(tool) {
		return fmt.Errorf("%w: tool name %q: 1 to 256 bytes of UTF-8", ErrPins, tool)
	}
	return nil
}

type pinFile struct {
	Version int                `json:"version"`
	Pins    map[string]pinJSON `json:"pins"`
}

type pinJSON struct {
	SHA256     string    `json:"sha256"`
	ApprovedAt time.Time `json:"approvedAt"`
	By         string    `json:"by,omitempty"`
}

// Save writes the store as indented JSON, tools in name order.
func (p *Pins) Save(w io.Writer) error {
	p.mu.RLock()
	f := pinFile{Version: 1, Pins: make(map[string]pinJSON, len(p.m))}
	for name, pin := range p.m {
		f.Pins[name] = pinJSON{SHA256: hex.EncodeToString(pin.Digest[:]), ApprovedAt: pin.ApprovedAt.UTC(), By: pin.By}
	}
	p.mu.RUnlock()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("mcp: encoding pins: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// SaveFile writes the store to path (mode 0600), through a temporary file
// renamed into place so that a crash leaves the old file or the new one.
func (p *Pins) SaveFile(path string) error {
	var buf bytes.Buffer
	if err := p.Save(&buf); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("mcp: writing pins: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("mcp: writing pins: %w", err)
	}
	return nil
}

// LoadPins reads a store written by [Pins.Save]. It refuses, with an error
// wrapping [ErrPins], input over [MaxPinFileBytes] or [MaxPins] tools,
// unknown fields, a version other than 1, a digest that is not 64 hex
// digits, and names [Pins.Set] refuses.
func LoadPins(r io.Reader) (*Pins, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPinFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mcp: reading pins: %w", err)
	}
	if len(data) > MaxPinFileBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrPins, MaxPinFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f pinFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPins, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON value", ErrPins)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%w: version %d, want 1", ErrPins, f.Version)
	}
	if len(f.Pins) > MaxPins {
		return nil, fmt.Errorf("%w: more than %d pins", ErrPins, MaxPins)
	}
	p := NewPins()
	for name, pj := range f.Pins {
		b, err := hex.DecodeString(pj.SHA256)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%w: %q: sha256 must be 64 hex digits", ErrPins, name)
		}
		pin := Pin{ApprovedAt: pj.ApprovedAt, By: pj.By}
		copy(pin.Digest[:], b)
		if err := p.Set(name, pin); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// LoadPinsFile reads a pin file written by [Pins.SaveFile]; a file that
// does not exist is an empty store.
func LoadPinsFile(path string) (*Pins, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return NewPins(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("mcp: reading pins: %w", err)
	}
	defer f.Close()
	return LoadPins(f)
}

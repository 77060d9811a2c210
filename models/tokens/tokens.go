package tokens

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/tiktoken-go/tokenizer"
)

// Encoding names a byte-pair encoding.
type Encoding string

// The encodings this package counts in.
const (
	Cl100kBase Encoding = "cl100k_base" // gpt-4, gpt-3.5-turbo, text-embedding-3-*, ada-002
	O200kBase  Encoding = "o200k_base"  // gpt-4o, gpt-4.1, gpt-5, o1, o3, o4; the fallback
)

// Chat-format overhead, from OpenAI's cookbook ("How to count tokens with
// tiktoken", num_tokens_from_messages) for gpt-3.5-turbo-0613 and later,
// gpt-4, gpt-4o and gpt-4o-mini: every message costs three tokens around
// its role and content, and every reply is primed with three more
// (<|start|>assistant<|message|>).
const (
	TokensPerMessage = 3
	TokensPerReply   = 3
)

// o200kPrefixes are the model-name prefixes counted in o200k_base. They are
// tested before cl100kPrefixes, so "gpt-4o" and "gpt-4.1" are not taken for
// "gpt-4".
var o200kPrefixes = []string{
	"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss",
	"o1", "o3", "o4", "omni-moderation",
}

var cl100kPrefixes = []string{
	"gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada-002",
	"davinci-002", "babbage-002",
}

// EncodingFor returns the encoding of a model, and whether the model was
// known. The name is lowercased; a provider prefix ("openai/gpt-4o") and a
// fine-tune wrapper ("ft:gpt-4o-mini:org::id") are stripped; an encoding
// name ("cl100k_base") chooses itself. Then:
//
//	gpt-4o*, chatgpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, gpt-oss*, o1*, o3*, o4*,
//	omni-moderation*                                        → o200k_base
//	gpt-4*, gpt-3.5*, gpt-35*, text-embedding-3*, text-embedding-ada-002,
//	davinci-002, babbage-002                                → cl100k_base
//	anything else (llama3, mistral, "", …)                  → o200k_base, known = false
//
// The fallback is o200k_base rather than an error because callers count to
// budget a prompt, and an estimate in the current encoding is more useful
// than no budget; known = false says it is one.
func EncodingFor(model string) (Encoding, bool) {
	m := strings.ToLower(strings.TrimSpace(model))
	if rest, ok := strings.CutPrefix(m, "ft:"); ok {
		m, _, _ = strings.Cut(rest, ":")
	}
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	switch Encoding(m) {
	case Cl100kBase, O200kBase:
		return Encoding(m), true
	}
	for _, p := range o200kPrefixes {
		if strings.HasPrefix(m, p) {
			return O200kBase, true
		}
	}
	for _, p := range cl100kPrefixes {
		if strings.HasPrefix(m, p) {
			return Cl100kBase, true
		}
	}
	return O200kBase, false
}

// Counter counts tokens in one encoding. It is safe for concurrent use; the
// zero value is not usable, get one from [For] or [ForEncoding].
type Counter struct {
	enc   Encoding
	codec tokenizer.Codec
}

var (
	loadOnce [2]sync.Once
	loaded   [2]*Counter
	loadErr  [2]error
)

// ForEncoding returns the shared counter of an encoding, loading its
// vocabulary on first use. An encoding other than cl100k_base and
// o200k_base is an error wrapping [agentos.ErrInvalid].
func ForEncoding(enc Encoding) (*Counter, error) {
	var i int
	var name tokenizer.Encoding
	switch enc {
	case Cl100kBase:
		i, name = 0, tokenizer.Cl100kBase
	case O200kBase:
		i, name = 1, tokenizer.O200kBase
	default:
		return nil, fmt.Errorf("tokens: encoding %q: %w", enc, agentos.ErrInvalid)
	}
	loadOnce[i].Do(func() {
		c, err := tokenizer.Get(name)
		if err != nil {
			loadErr[i] = fmt.Errorf("tokens: load %s: %w", enc, err)
			return
		}
		// The codec's error mode is set here, once, before the counter is
		// shared: SetErrorMode is the codec's only write after construction.
		// With ErrorModeNone any input has a count: each byte of invalid
		// UTF-8 is counted as a U+FFFD.
		c.SetErrorMode(tokenizer.ErrorModeNone)
		loaded[i] = &Counter{enc: enc, codec: c}
	})
	return loaded[i], loadErr[i]
}

// For returns the counter of a model's encoding (see [EncodingFor]).
func For(model string) (*Counter, error) {
	enc, _ := EncodingFor(model)
	return ForEncoding(enc)
}

// Encoding returns the counter's encoding.
func (c *Counter) Encoding() Encoding { return c.enc }

// Count returns the number of tokens in text. Each byte of invalid UTF-8
// counts as a U+FFFD would.
func (c *Counter) Count(text string) (int, error) {
	n, err := c.codec.Count(text)
	if err != nil {
		return 0, fmt.Errorf("tokens: count in %s: %w", c.enc, err)
	}
	return n, nil
}

// CountMessages returns the tokens a chat prompt of msgs costs, counted as
// OpenAI's cookbook does: [TokensPerMessage] plus the tokens of the role and
// of the content for each message, plus [TokensPerReply]. For gpt-4o and
// gpt-4 it matches the prompt_tokens the API reports for plain text
// messages; tool definitions and images are not counted.
func (c *Counter) CountMessages(msgs []agentos.Message) (int, error) {
	total := TokensPerReply
	for _, m := range msgs {
		r, err := c.Count(string(m.Role))
		if err != nil {
			return 0, err
		}
		n, err := c.Count(m.Content)
		if err != nil {
			return 0, err
		}
		total += TokensPerMessage + r + n
	}
	return total, nil
}

// Truncate returns the longest prefix of text that ends on a token boundary,
// ends on a UTF-8 character boundary (when text is valid UTF-8), and counts
// at most maxTokens tokens. Text within the limit is returned unchanged; a
// negative maxTokens is an error wrapping [agentos.ErrInvalid].
//
// Re-encoding a prefix may split it differently from the whole (the
// encodings' pre-tokenizer looks ahead), so the cut is verified by counting
// it, and moved back a token at a time until it fits: the result always
// satisfies Count(result) <= maxTokens. It costs one encoding of the whole
// text, plus one count of the prefix per step back (almost always one).
func (c *Counter) Truncate(text string, maxTokens int) (string, error) {
	if maxTokens < 0 {
		return "", fmt.Errorf("tokens: truncate to %d tokens: %w", maxTokens, agentos.ErrInvalid)
	}
	_, pieces, err := c.codec.Encode(text)
	if err != nil {
		return "", fmt.Errorf("tokens: encode in %s: %w", c.enc, err)
	}
	if len(pieces) <= maxTokens {
		return text, nil
	}
	// The encoder matches its pre-tokenizer on runes, so each byte of
	// invalid UTF-8 reaches it as U+FFFD: the pieces concatenate to
	// replaced, and orig maps each rune start of replaced to text.
	replaced, orig := text, []int(nil)
	if !utf8.ValidString(text) {
		replaced, orig = replaceInvalid(text)
	}
	end := 0
	ends := make([]int, maxTokens) // ends[k]: the byte offset in replaced where token k ends
	for k := range maxTokens {
		end += len(pieces[k])
		ends[k] = end
	}
	for k := maxTokens - 1; k >= 0; k-- {
		cut := min(ends[k], len(replaced))
		// Do not split a character that a token boundary cut through.
		for cut > 0 && cut < len(replaced) && !utf8.RuneStart(replaced[cut]) {
			cut--
		}
		if orig != nil {
			cut = orig[cut]
		}
		if cut == 0 {
			break
		}
		prefix := text[:cut]
		n, err := c.Count(prefix)
		if err != nil {
			return "", err
		}
		if n <= maxTokens {
			return prefix, nil
		}
	}
	return "", nil
}

// replaceInvalid returns s with each byte of invalid UTF-8 replaced by
// U+FFFD, as a []rune conversion does, and orig, where orig[i] is the offset
// in s of the character that starts at byte i of the result (and
// orig[len(result)] = len(s)).
func replaceInvalid(s string) (string, []int) {
	var b strings.Builder
	b.Grow(len(s) + 8)
	orig := make([]int, 0, len(s)+9)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		w := utf8.RuneLen(r) // 3 for the RuneError of an invalid byte
		for range w {
			orig = append(orig, i)
		}
		b.WriteRune(r)
		i += n
	}
	orig = append(orig, len(s))
	return b.String(), orig
}

// Count returns the number of tokens in text in model's encoding.
func Count(model, text string) (int, error) {
	c, err := For(model)
	if err != nil {
		return 0, err
	}
	return c.Count(text)
}

// CountMessages returns the tokens a chat prompt costs in model's encoding;
// see [Counter.CountMessages].
func CountMessages(model string, msgs []agentos.Message) (int, error) {
	c, err := For(model)
	if err != nil {
		return 0, err
	}
	return c.CountMessages(msgs)
}

// Truncate cuts text to at most maxTokens tokens of model's encoding; see
// [Counter.Truncate].
func Truncate(model, text string, maxTokens int) (string, error) {
	c, err := For(model)
	if err != nil {
		return "", err
	}
	return c.Truncate(text, maxTokens)
}

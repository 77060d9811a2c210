package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/internal/jsonenc"
	"github.com/agent-os/agentos/recorder"
)

// appendEntryJSON appends the JSON of e, byte for byte what json.Marshal
// writes for it (TestAppendEntryJSON and FuzzAppendEntryJSON check this
// against json.Marshal), at a fraction of its cost: log --format jsonl of a
// million entries spent more time in json.Marshal's reflection than in the
// query. Values the fast path does not handle (an effect or severity
// without a name, a year outside 0..9999, args that json.Marshal would
// rewrite) go through json.Marshal.
func appendEntryJSON(b []byte, e *recorder.Entry) ([]byte, error) {
	if !fastJSON(e) {
		c := *e // a copy escapes to json.Marshal, so that e does not
		j, err := json.Marshal(&c)
		return append(b, j...), err
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = appendTime(b, e.Time, false)
	b = append(b, `","trace":`...)
	b = jsonenc.AppendString(b, e.Trace, true)
	b = appendField(b, "agent", string(e.Agent))
	b = append(b, `,"kind":`...)
	b = jsonenc.AppendString(b, string(e.Kind), true)
	b = appendField(b, "op", string(e.Op))
	b = appendField(b, "tool", e.Tool)
	b = appendField(b, "path", e.Path)
	b = appendField(b, "target", string(e.Target))
	if len(e.Args) > 0 {
		b = append(b, `,"args":`...)
		b = append(b, e.Args...)
	}
	b = appendField(b, "payload_type", e.PayloadType)
	if len(e.Meta) > 0 {
		b = append(b, `,"meta":{`...)
		keys := make([]string, 0, len(e.Meta))
		for k := range e.Meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, k, true)
			b = append(b, ':')
			b = jsonenc.AppendString(b, e.Meta[k], true)
		}
		b = append(b, '}')
	}
	b = appendField(b, "policy_version", e.PolicyVersion)
	b = appendField(b, "rule", e.Rule)
	b = append(b, `,"effect":"`...)
	b = append(b, e.Effect.String()...)
	b = append(b, '"')
	b = appendField(b, "message", e.Message)
	b = append(b, `,"severity":"`...)
	b = append(b, e.Severity.String()...)
	b = append(b, '"')
	b = appendField(b, "status", string(e.Status))
	b = appendField(b, "error", e.Error)
	if e.Duration != 0 {
		b = append(b, `,"duration_ns":`...)
		b = strconv.AppendInt(b, int64(e.Duration), 10)
	}
	b = appendField(b, "result_digest", e.ResultDigest)
	b = appendField(b, "detail", e.Detail)
	b = append(b, `,"prev_hash":"`...)
	b = appendHex(b, e.PrevHash[:])
	b = append(b, `","hash":"`...)
	b = appendHex(b, e.Hash[:])
	b = append(b, `"}`...)
	return b, nil
}

// fastJSON reports whether appendEntryJSON's fast path writes e as
// json.Marshal would.
func fastJSON(e *recorder.Entry) bool {
	if e.Effect > agentos.Audit || e.Severity > agentos.SeverityCritical {
		return false
	}
	if y := e.Time.Year(); y < 0 || y > 9999 {
		return false
	}
	return len(e.Args) == 0 || compactSafe(e.Args)
}

// compactSafe reports whether json.Marshal copies raw as it is: one valid
// JSON value with no whitespace outside strings and nothing its
// compaction escapes (<, >, &, U+2028, U+2029). Canonical args (what the
// recorder stores) are, unless they hold those characters. It is
// json.Valid's grammar less the whitespace, in one pass without
// allocating (TestCompactSafe and FuzzCompactSafe check it against
// json.Marshal).
func compactSafe(raw []byte) bool {
	i, ok := jsonValue(raw, 0, 0)
	return ok && i == len(raw)
}

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// jsonValue scans the value at raw[i:] and returns where it ends.
func jsonValue(raw []byte, i, depth int) (int, bool) {
	if i >= len(raw) {
		return i, false
	}
	switch c := raw[i]; {
	case c == '"':
		return jsonString(raw, i)
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return i, false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i++
		if i < len(raw) && raw[i] == end {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(raw) || raw[i] != '"' {
					return i, false
				}
				if i, ok = jsonString(raw, i); !ok || i >= len(raw) || raw[i] != ':' {
					return i, false
				}
				i++
			}
			if i, ok = jsonValue(raw, i, depth+1); !ok || i >= len(raw) {
				return i, false
			}
			switch raw[i] {
			case ',':
				i++
			case end:
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return jsonNumber(raw, i)
	case c == 't':
		return jsonLiteral(raw, i, "true")
	case c == 'f':
		return jsonLiteral(raw, i, "false")
	case c == 'n':
		return jsonLiteral(raw, i, "null")
	}
	return i, false
}

func jsonLiteral(raw []byte, i int, lit string) (int, bool) {
	if len(raw)-i < len(lit) || string(raw[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// jsonNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func jsonNumber(raw []byte, i int) (int, bool) {
	if raw[i] == '-' {
		i++
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case i < len(raw) && raw[i] >= '1' && raw[i] <= '9':
		i = skipDigits(raw, i)
	default:
		return i, false
	}
	if i < len(raw) && raw[i] == '.' {
		j := skipDigits(raw, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		j := skipDigits(raw, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(raw []byte, i int) int {
	for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
		i++
	}
	return i
}

// jsonString scans the string at raw[i:] (raw[i] is '"'), refusing what
// compaction would escape.
func jsonString(raw []byte, i int) (int, bool) {
	for i++; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			return i, false
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9):
			return i, false
		case c == '\\':
			i++
			if i >= len(raw) {
				return i, false
			}
			switch raw[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(raw)-i < 5 {
					return i, false
				}
				for _, h := range raw[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// appendField appends ,"name":"value" unless value is empty (omitempty).
func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return jsonenc.AppendString(b, value, true)
}

const hexDigits = "0123456789abcdef"

func appendHex(b, src []byte) []byte {
	for _, c := range src {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return b
}

// appendTime appends t as time.RFC3339Nano formats it (json.Marshal's
// form) or, with millis, as "2006-01-02T15:04:05.000Z" (the table's; t
// must then be in UTC). UTC times take a fast path, the rest
// AppendFormat.
func appendTime(b []byte, t time.Time, millis bool) []byte {
	if t.Location() != time.UTC {
		if millis {
			return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		}
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		if millis {
			return t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
		}
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	h, mi, sec := t.Clock()
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+sec/10), byte('0'+sec%10))
	ns := t.Nanosecond()
	digits := 9
	if millis {
		ns /= 1e6
		digits = 3
	} else {
		if ns == 0 {
			return append(b, 'Z')
		}
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
	}
	b = append(b, '.')
	var frac [9]byte
	for i := digits - 1; i >= 0; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	b = append(b, frac[:digits]...)
	return append(b, 'Z')
}

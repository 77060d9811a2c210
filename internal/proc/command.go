package proc

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Defaults and bounds of a Command.
const (
	DefaultTimeout   = time.Minute // a Command with Timeout 0
	MaxTimeout       = 24 * time.Hour
	DefaultMaxOutput = 1 << 20 // bytes of stdout, and of stderr, kept by default
	MaxOutput        = 64 << 20
	DefaultMaxArgLen = 64 << 10 // bytes of one argument value by default
	MaxArgs          = 256      // template elements, and declared parameters
	DefaultShell     = "/bin/sh"
)

// Sentinel errors. Errors returned by Compile wrap ErrCommand; argument
// errors of Run are [*ArgError] values wrapping ErrArgs.
var (
	ErrCommand = errors.New("proc: invalid command")
	ErrArgs    = errors.New("proc: invalid arguments")
	// ErrTimeout is wrapped (with context.DeadlineExceeded) by the error of
	// a run that outlived its Command's Timeout.
	ErrTimeout = errors.New("proc: time limit exceeded")
)

// Command describes a program run as a tool. Its zero value is not
// runnable: Path (or Script) is required.
type Command struct {
	// Path is the absolute path of the program. It is never looked up in
	// PATH. With Script set, Path is the shell (DefaultShell when empty).
	Path string
	// Args is the argument template (after argv[0]). Each element is a
	// literal with {name} references to Params; {{ and }} write literal
	// braces. A value always lands inside the element that refers to it,
	// so it can never add, remove or split arguments. An element that
	// refers to an optional parameter absent from the call is left out.
	Args []string
	// Script, when not empty, runs Path -c Script Name ARGS..., so the
	// filled Args are the script's positional parameters $1, $2, ….
	// Argument values never become part of the script text; quote "$1"
	// in the script as usual.
	Script string
	// Name is argv[0] (and $0 of a script); the base of Path when empty.
	Name string
	// Params declares the arguments a call may pass. A call passing an
	// argument that is not declared is refused.
	Params []Param
	// Env is the environment allow-list: "NAME" passes NAME from the
	// environment given to Run (when it is set there), "NAME=value" sets
	// it. Nothing else reaches the program: not even PATH.
	Env []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// Timeout bounds the run (DefaultTimeout when 0). When it passes the
	// whole process group is killed.
	Timeout time.Duration
	// Stdin names the parameter whose value is written to the program's
	// standard input. Empty means the program reads an empty input.
	Stdin string
	// MaxStdout and MaxStderr bound the bytes of each stream kept in the
	// Result (DefaultMaxOutput when 0). The rest is read, counted and
	// hashed, then discarded.
	MaxStdout, MaxStderr int
}

// Param is one argument a call may pass, and how its value is checked.
// Values may be strings, booleans or numbers (int, uint and float kinds,
// json.Number); they are turned into text as strconv formats them.
type Param struct {
	Name     string
	Required bool
	// Pattern is an RE2 expression the whole value must match (it is
	// anchored at both ends). Empty means any value.
	Pattern string
	// MaxLen bounds the value in bytes (DefaultMaxArgLen when 0).
	MaxLen int
	// AllowLeadingDash lets a value that starts with '-' begin an
	// argument. By default it is refused there, so that a value cannot
	// turn into an option of the program ("--output=/etc/passwd").
	AllowLeadingDash bool
}

// part is a piece of a compiled template element: a literal, or the
// parameter at index param when param >= 0.
type part struct {
	lit   string
	param int
}

type param struct {
	Param
	re *regexp.Regexp
}

// Spec is a compiled Command. It is immutable and safe for concurrent use.
type Spec struct {
	path, name, script, dir string
	args                    [][]part
	params                  []param
	byName                  map[string]int
	env                     []string // "NAME" or "NAME=value", checked
	timeout                 time.Duration
	stdin                   int // parameter index, -1 for none
	maxOut, maxErr          int
}

var (
	paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// Compile checks c and returns its Spec. Errors wrap ErrCommand and say
// what is wrong.
func Compile(c Command) (*Spec, error) {
	bad := func(format string, args ...any) (*Spec, error) {
		return nil, fmt.Errorf("%w: %s", ErrCommand, fmt.Sprintf(format, args...))
	}
	s := &Spec{path: c.Path, name: c.Name, script: c.Script, dir: c.Dir, stdin: -1,
		timeout: c.Timeout, maxOut: c.MaxStdout, maxErr: c.MaxStderr, byName: map[string]int{}}
	if c.Script != "" && s.path == "" {
		s.path = DefaultShell
	}
	switch {
	case s.path == "":
		return bad("no program path")
	case !filepath.IsAbs(s.path):
		return bad("program path %q is not absolute", s.path)
	case strings.ContainsRune(s.path, 0) || strings.ContainsRune(c.Script, 0) || strings.ContainsRune(c.Name, 0) || strings.ContainsRune(c.Dir, 0):
		return bad("NUL byte in path, script, name or dir")
	}
	if s.name == "" {
		s.name = filepath.Base(s.path)
	}
	if len(c.Params) > MaxArgs || len(c.Args) > MaxArgs {
		return bad("more than %d parameters or template elements", MaxArgs)
	}
	for i, p := range c.Params {
		if !paramName.MatchString(p.Name) {
			return bad("parameter name %q is not valid (letters, digits, '_', '.', '-')", p.Name)
		}
		if _, dup := s.byName[p.Name]; dup {
			return bad("parameter %q declared twice", p.Name)
		}
		if p.MaxLen < 0 {
			return bad("parameter %q: negative MaxLen", p.Name)
		}
		if p.MaxLen == 0 {
			p.MaxLen = DefaultMaxArgLen
		}
		cp := param{Param: p}
		if p.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
			if err != nil {
				return bad("parameter %q: pattern: %v", p.Name, err)
			}
			cp.re = re
		}
		s.byName[p.Name] = i
		s.params = append(s.params, cp)
	}
	for i, a := range c.Args {
		parts, err := s.parseTemplate(a)
		if err != nil {
			return bad("argument %d (%q): %v", i+1, a, err)
		}
		s.args = append(s.args, parts)
	}
	for _, e := range c.Env {
		name, _, _ := strings.Cut(e, "=")
		if !envName.MatchString(name) || strings.ContainsRune(e, 0) {
			return bad("environment entry %q is not NAME or NAME=value", e)
		}
		s.env = append(s.env, e)
	}
	if c.Stdin != "" {
		i, ok := s.byName[c.Stdin]
		if !ok {
			return bad("stdin parameter %q is not declared", c.Stdin)
		}
		s.stdin = i
	}
	switch {
	case s.timeout < 0 || s.timeout > MaxTimeout:
		return bad("timeout %v is not between 0 and %v", s.timeout, MaxTimeout)
	case s.timeout == 0:
		s.timeout = DefaultTimeout
	}
	for _, m := range []*int{&s.maxOut, &s.maxErr} {
		switch {
		case *m < 0 || *m > MaxOutput:
			return bad("output limit %d is not between 0 and %d", *m, MaxOutput)
		case *m == 0:
			*m = DefaultMaxOutput
		}
	}
	return s, nil
}

func (s *Spec) parseTemplate(a string) ([]part, error) {
	var parts []part
	var lit strings.Builder
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == '{' && i+1 < len(a) && a[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(a) && a[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(a[i:], '}')
			if end < 0 {
				return nil, errors.New("unclosed {")
			}
			name := a[i+1 : i+end]
			idx, ok := s.byName[name]
			if !ok {
				return nil, fmt.Errorf("refers to undeclared parameter %q", name)
			}
			if lit.Len() > 0 {
				parts = append(parts, part{lit: lit.String(), param: -1})
				lit.Reset()
			}
			parts = append(parts, part{param: idx})
			i += end
		case c == '}':
			return nil, errors.New("unmatched } (write }} for a literal brace)")
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 || len(parts) == 0 {
		parts = append(parts, part{lit: lit.String(), param: -1})
	}
	return parts, nil
}

// Timeout returns the time limit of a run.
func (s *Spec) Timeout() time.Duration { return s.timeout }

// ArgError is an argument that a call passed (or failed to pass) and that
// the Spec refuses. It wraps ErrArgs.
type ArgError struct {
	Param  string
	Reason string
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("proc: argument %q: %s", e.Param, e.Reason)
}

// Unwrap returns ErrArgs.
func (e *ArgError) Unwrap() error { return ErrArgs }

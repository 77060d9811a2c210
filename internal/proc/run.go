package proc

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// outputGrace bounds how long Run waits, after the process group is dead,
// for the output pipes to close. Only a process that left the group (by
// setsid) can hold them longer; its output is then cut off.
const outputGrace = 2 * time.Second

// Cgroup is a cgroup v2 directory, open, that a program is started in.
// *bpf.Cgroup satisfies it.
type Cgroup interface {
	FD() int
}

// RunOptions are the per-run inputs that are not tool arguments. A nil
// *RunOptions means the defaults.
type RunOptions struct {
	// Environ is the environment the Command's Env allow-list picks from
	// ("NAME=value" entries). Nil means os.Environ().
	Environ []string
	// Cgroup, when not nil, is the cgroup the program starts in
	// (clone3 with CLONE_INTO_CGROUP, Linux 5.7 or later): it never runs a
	// single instruction outside it. Elsewhere a non-nil Cgroup makes Run
	// fail with an error wrapping errors.ErrUnsupported.
	Cgroup Cgroup
	// Sandbox, when not nil, confines the program (see [Sandbox]): on
	// Linux it never runs as root, with any capability, or with a view of
	// the host's processes and writable cgroups; when it exits, every
	// process it started dies too. Elsewhere Run fails with an error
	// wrapping errors.ErrUnsupported.
	Sandbox *Sandbox
}

// Output is one output stream of a run.
type Output struct {
	Data      []byte // the first bytes written, at most the Command's limit
	Size      int64  // bytes the program wrote in all
	Truncated bool   // Size > len(Data)
	// SHA256 is the digest of all Size bytes, kept or not.
	SHA256 [sha256.Size]byte
}

// Result is what a run did.
type Result struct {
	Pid      int            // of the program (also its process group id)
	Argv     []string       // as executed, argv[0] first
	ExitCode int            // -1 when a signal ended it
	Signal   syscall.Signal // the signal that ended it, 0 if none
	Stdout   Output
	Stderr   Output
	Start    time.Time
	Duration time.Duration
	TimedOut bool // the Command's Timeout passed and the group was killed
}

// Success reports whether the program exited with status 0.
func (r *Result) Success() bool { return r != nil && r.ExitCode == 0 && r.Signal == 0 }

// ExitError is the error of a run whose program exited with a non-zero
// status or was ended by a signal.
type ExitError struct {
	Code   int
	Signal syscall.Signal
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("proc: program killed by signal %v", e.Signal)
	}
	return fmt.Sprintf("proc: program exited with status %d", e.Code)
}

// Run validates args against the Spec's parameters, runs the program and
// waits for it. The whole process group is killed when ctx ends, when the
// time limit passes and after the program exits (so nothing it started
// outlives the call).
//
// Errors: an [*ArgError] (wrapping ErrArgs) when an argument is refused,
// and then nothing ran (the Result is nil); an error from starting the
// program (nil Result); otherwise the Result is always returned, with an
// error wrapping ErrTimeout and context.DeadlineExceeded after a timeout,
// wrapping ctx.Err() when ctx ended, an [*ExitError] for a non-zero exit
// or a signal, and nil for a clean exit.
func (s *Spec) Run(ctx context.Context, args map[string]any, opts *RunOptions) (*Result, error) {
	if opts == nil {
		opts = &RunOptions{}
	}
	argv, stdin, err := s.fill(args)
	if err != nil {
		return nil, err
	}
	attr, err := sysProcAttr(opts.Cgroup)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}

	runCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, s.path)
	cmd.Args = argv
	cmd.Env = s.environ(environ)
	cmd.Dir = s.dir
	cmd.SysProcAttr = attr
	var statusR, statusW *os.File
	if opts.Sandbox != nil {
		if statusR, statusW, err = sandboxCmd(cmd, opts.Sandbox, s.path, argv); err != nil {
			return nil, err
		}
	}

	var files []*os.File // every pipe end this function still holds
	if statusR != nil {
		files = append(files, statusR, statusW)
	}
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	outR, outW, err := pipe()
	if err != nil {
		return nil, fmt.Errorf("proc: %w", err)
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("proc: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	var inW *os.File
	if stdin != nil {
		var inR *os.File
		if inR, inW, err = pipe(); err != nil {
			closeAll()
			return nil, fmt.Errorf("proc: %w", err)
		}
		cmd.Stdin = inR
	}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }

	res := &Result{Argv: argv, Start: time.Now()}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("proc: starting %s: %w", s.path, err)
	}
	res.Pid = cmd.Process.Pid
	// The child has its copies; drop the parent's ends it uses.
	_ = outW.Close()
	_ = errW.Close()
	if cmd.Stdin != nil {
		_ = cmd.Stdin.(*os.File).Close()
	}
	if statusR != nil {
		_ = statusW.Close()
		if err := startStatus(statusR, s.path); err != nil {
			// The sandbox could not be set up: the program never ran.
			_ = killGroup(res.Pid)
			_ = cmd.Wait()
			closeAll()
			return nil, fmt.Errorf("proc: starting %s: %w", s.path, err)
		}
	}

	var wg sync.WaitGroup
	out := newCapture(s.maxOut)
	errc := newCapture(s.maxErr)
	wg.Go(func() { out.readFrom(outR) })
	wg.Go(func() { errc.readFrom(errR) })
	if inW != nil {
		wg.Go(func() {
			_, _ = inW.Write(stdin) // EPIPE when the program stops reading: fine
			_ = inW.Close()
		})
	}

	waitErr := cmd.Wait()
	res.Duration = time.Since(res.Start)
	// Whatever the program left running in its group dies with it.
	_ = killGroup(res.Pid)
	copied := make(chan struct{})
	go func() { wg.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(outputGrace):
		closeAll() // unblocks the copies
		<-copied
	}
	closeAll()
	res.Stdout, res.Stderr = out.output(), errc.output()

	ps := cmd.ProcessState
	if ps == nil {
		return res, fmt.Errorf("proc: waiting for %s: %w", s.path, waitErr)
	}
	res.ExitCode, res.Signal = exitStatus(ps)
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("proc: %s: %w", s.name, ctx.Err())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		res.TimedOut = true
		return res, fmt.Errorf("%w (%v): %w", ErrTimeout, s.timeout, context.DeadlineExceeded)
	case res.Success():
		return res, nil
	default:
		return res, &ExitError{Code: res.ExitCode, Signal: res.Signal}
	}
}

// fill builds argv and the stdin bytes from args.
func (s *Spec) fill(args map[string]any) ([]string, []byte, error) {
	vals := make([]string, len(s.params))
	set := make([]bool, len(s.params))
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic error for several bad arguments
	for _, k := range keys {
		i, ok := s.byName[k]
		if !ok {
			return nil, nil, &ArgError{Param: k, Reason: "not a parameter of this command"}
		}
		p := &s.params[i]
		v, err := text(args[k])
		if err != nil {
			return nil, nil, &ArgError{Param: k, Reason: err.Error()}
		}
		if len(v) > p.MaxLen {
			return nil, nil, &ArgError{Param: k, Reason: fmt.Sprintf("%d bytes, over the limit of %d", len(v), p.MaxLen)}
		}
		if p.re != nil && !p.re.MatchString(v) {
			return nil, nil, &ArgError{Param: k, Reason: fmt.Sprintf("does not match %s", p.Pattern)}
		}
		vals[i], set[i] = v, true
	}
	for i, p := range s.params {
		if p.Required && !set[i] {
			return nil, nil, &ArgError{Param: p.Name, Reason: "required"}
		}
	}
	argv := make([]string, 0, len(s.args)+3)
	if s.script != "" {
		argv = append(argv, s.path, "-c", s.script, s.name)
	} else {
		argv = append(argv, s.name)
	}
	var b strings.Builder
elements:
	for _, el := range s.args {
		b.Reset()
		for j, pt := range el {
			if pt.param < 0 {
				b.WriteString(pt.lit)
				continue
			}
			if !set[pt.param] {
				continue elements // an absent optional value drops the element
			}
			p := &s.params[pt.param]
			v := vals[pt.param]
			if strings.IndexByte(v, 0) >= 0 {
				return nil, nil, &ArgError{Param: p.Name, Reason: "contains a NUL byte"}
			}
			if j == 0 && strings.HasPrefix(v, "-") && !p.AllowLeadingDash {
				return nil, nil, &ArgError{Param: p.Name, Reason: "starts with '-' where it would begin an argument (an option)"}
			}
			b.WriteString(v)
		}
		argv = append(argv, b.String())
	}
	var stdin []byte
	if s.stdin >= 0 && set[s.stdin] {
		stdin = []byte(vals[s.stdin])
	} else if s.stdin >= 0 {
		stdin = []byte{}
	}
	return argv, stdin, nil
}

// text turns an argument value into its text.
func text(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return x.String(), nil
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	case nil:
		return "", errors.New("is null")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.String:
		return rv.String(), nil
	}
	return "", fmt.Errorf("a %T is not a string, boolean or number", v)
}

func formatFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", errors.New("is not a finite number")
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// environ applies the allow-list to the given environment.
func (s *Spec) environ(from []string) []string {
	env := make([]string, 0, len(s.env))
	for _, e := range s.env {
		if strings.Contains(e, "=") {
			env = append(env, e)
			continue
		}
		// The last entry of a name wins, as in the C library.
		for i := len(from) - 1; i >= 0; i-- {
			if k, _, ok := strings.Cut(from[i], "="); ok && k == e {
				env = append(env, from[i])
				break
			}
		}
	}
	return env
}

// capture keeps the first limit bytes of a stream and hashes all of it.
type capture struct {
	limit int
	buf   []byte
	size  int64
	h     hash.Hash
}

func newCapture(limit int) *capture {
	return &capture{limit: limit, h: sha256.New()}
}

func (c *capture) readFrom(r io.Reader) {
	p := make([]byte, 32<<10)
	for {
		n, err := r.Read(p)
		if n > 0 {
			c.h.Write(p[:n])
			c.size += int64(n)
			if room := c.limit - len(c.buf); room > 0 {
				c.buf = append(c.buf, p[:min(n, room)]...)
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *capture) output() Output {
	o := Output{Data: c.buf, Size: c.size, Truncated: c.size > int64(len(c.buf))}
	c.h.Sum(o.SHA256[:0])
	return o
}

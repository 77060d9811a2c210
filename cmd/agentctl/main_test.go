package main

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, to tamper with files as an attacker would

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/cmd/agentctl/internal/cli"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

// TestMain makes the test binary also the commands the scripts run:
// agentctl itself (in-process code, a real exit code) and the fixtures.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"agentctl": func() {
			os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
		"mkrecorder": func() { os.Exit(mkrecorder(os.Args[1:])) },
	})
}

// TestScripts runs every testdata/script/*.txtar. Each script runs in its
// own directory with agentctl and mkrecorder on its PATH; NO_COLOR is
// unset so that scripts choose.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("NO_COLOR", "")
			return nil
		},
	})
}

// fixturePolicy allows memory under /mem and the "search" tool, refuses
// "shell" (the agent lives on) and denies everything else by default.
const fixturePolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: fixture, version: "7"}
spec:
  defaultEffect: deny
  rules:
    - name: own-memory
      effect: allow
      when: path.under(action.path, "/mem")
    - name: search
      effect: allow
      when: action.op == "exec" && action.tool == "search"
    - name: no-shell
      effect: deny
      onDeny: refuse
      severity: high
      when: action.op == "exec" && action.tool == "shell"
      message: no shell for agents
`

// fixtureStart is the time of the first entry of a fixture recorder; each
// later reading of the clock is one second later, so entry times are
// deterministic.
var fixtureStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// mkrecorder writes a real flight recorder by running a kernel over it:
//
//	mkrecorder [flags] FILE
//
//	-n N          syscalls to run (default 20): agents alice and bob write
//	              and read memory and exec "search" (allowed) and "shell"
//	              (refused by rule no-shell), and the host signals bob
//	-rollover M   start a new file every M entries (FILE.000002.db, …)
//	-append       add to FILE if it exists instead of refusing
//	-every D      pause D between syscalls (to feed a follower)
//	-start T      time of the first entry (RFC 3339; default 2026-01-01)
//	-anchor A     after the run, sign the head with a fresh key and write
//	              the signed anchor to A and the public key (hex) to A.pub
//	-tamper SEQ   after closing, edit entry SEQ's tool directly in SQLite
//	-delete SEQ   after closing, delete entry SEQ directly in SQLite
//	-cut SEQ      after closing, delete every entry after SEQ (the tail)
//	-schema V     after closing, set the schema version to V
//	-trunc B      after closing, truncate the file to B bytes
//
// It prints nothing and exits 0 on success, 1 with the error otherwise.
func mkrecorder(args []string) int {
	fs := flag.NewFlagSet("mkrecorder", flag.ContinueOnError)
	n := fs.Int("n", 20, "syscalls")
	rollover := fs.Uint64("rollover", 0, "entries per file")
	appendTo := fs.Bool("append", false, "append to an existing file")
	every := fs.Duration("every", 0, "pause between syscalls")
	start := fs.String("start", fixtureStart.Format(time.RFC3339), "time of the first entry")
	anchor := fs.String("anchor", "", "write a signed anchor of the head here")
	tamper := fs.Uint64("tamper", 0, "edit this entry after closing")
	del := fs.Uint64("delete", 0, "delete this entry after closing")
	cut := fs.Uint64("cut", 0, "delete every entry after this one after closing")
	schema := fs.Int("schema", 0, "set this schema version after closing")
	trunc := fs.Int64("trunc", -1, "truncate the file to this size after closing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "mkrecorder: want one FILE")
		return 2
	}
	path := fs.Arg(0)
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkrecorder:", err)
		return 2
	}
	err = func() error {
		if !*appendTo {
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists (use -append)", path)
			}
		}
		if err := run(path, *n, *rollover, *every, t0, *anchor); err != nil {
			return err
		}
		return damage(path, *tamper, *del, *cut, *schema, *trunc)
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkrecorder:", err)
		return 1
	}
	return 0
}

// run runs n syscalls of two agents under the fixture policy, recorded in
// path.
func run(path string, n int, rollover uint64, every time.Duration, t0 time.Time, anchorPath string) (err error) {
	ctx := context.Background()
	clock := kerneltest.NewClock(t0).Ticking(time.Second)
	opts := &recorder.Options{Sync: recorder.SyncNormal, Clock: clock}
	if rollover > 0 {
		opts.Rollover = &recorder.Rollover{MaxEntries: rollover}
	}
	rec, err := recorder.Open(path, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rec.Close()) }()
	k, err := kernel.New(
		kernel.WithPolicySource("fixture.yaml", []byte(fixturePolicy)),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
		kernel.WithTool("search", func(ctx context.Context, args map[string]any) (any, error) {
			return "3 results", nil
		}),
		kernel.WithTool("shell", func(ctx context.Context, args map[string]any) (any, error) {
			return "", errors.New("never runs")
		}),
	)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, k.Close()) }()
	alice, err := k.Spawn(ctx, "alice")
	if err != nil {
		return err
	}
	bob, err := k.Spawn(ctx, "bob")
	if err != nil {
		return err
	}
	for i := range n {
		if i > 0 && every > 0 {
			time.Sleep(every)
		}
		var err error
		switch i % 5 {
		case 0:
			err = alice.Write(ctx, fmt.Sprintf("/mem/working/note-%d.txt", i), []byte("note"))
		case 1:
			_, err = alice.Read(ctx, fmt.Sprintf("/mem/working/note-%d.txt", i-1))
		case 2:
			_, err = bob.Exec(ctx, "search", map[string]any{"q": fmt.Sprint("query ", i)})
		case 3:
			_, err = bob.Exec(ctx, "shell", map[string]any{"cmd": "rm -rf /"})
		case 4:
			_, err = alice.Exec(ctx, "search", map[string]any{"q": "more"})
		}
		var v *agentos.PolicyViolation
		if err != nil && !errors.As(err, &v) {
			return fmt.Errorf("syscall %d: %w", i, err)
		}
		if i == n/2 {
			if err := k.Signal(ctx, "bob", signals.SIGUSR1, "operator snapshot"); err != nil {
				return err
			}
		}
	}
	if anchorPath != "" {
		pub, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			return err
		}
		if err := k.Close(); err != nil {
			return err
		}
		if err := rec.Flush(ctx); err != nil {
			return err
		}
		sa, err := recorder.SignAnchor(key, "fixture", rec.Anchor(), clock())
		if err != nil {
			return err
		}
		af, err := recorder.OpenAnchorFile(anchorPath)
		if err != nil {
			return err
		}
		if err := errors.Join(af.Publish(ctx, sa), af.Close()); err != nil {
			return err
		}
		if err := os.WriteFile(anchorPath+".pub", []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// damage changes a closed recorder file as someone with write access to it
// could: edit or delete an entry (dropping the append-only triggers first),
// raise the schema version, or cut the file short.
func damage(path string, tamper, del, cut uint64, schema int, trunc int64) error {
	if tamper > 0 || del > 0 || cut > 0 || schema > 0 {
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			return err
		}
		defer db.Close()
		var stmts []string
		if tamper > 0 || del > 0 || cut > 0 {
			stmts = append(stmts, "DROP TRIGGER entries_no_update", "DROP TRIGGER entries_no_delete")
		}
		if tamper > 0 {
			stmts = append(stmts, fmt.Sprintf("UPDATE entries SET tool = 'tampered' WHERE seq = %d", tamper))
		}
		if del > 0 {
			stmts = append(stmts, fmt.Sprintf("DELETE FROM entries WHERE seq = %d", del))
		}
		if cut > 0 {
			stmts = append(stmts, fmt.Sprintf("DELETE FROM entries WHERE seq > %d", cut))
		}
		if schema > 0 {
			stmts = append(stmts, fmt.Sprintf("PRAGMA user_version = %d", schema))
		}
		for _, s := range stmts {
			res, err := db.Exec(s)
			if err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
			if strings.HasPrefix(s, "UPDATE") || strings.HasPrefix(s, "DELETE FROM entries WHERE seq =") {
				if n, _ := res.RowsAffected(); n != 1 {
					return fmt.Errorf("%s: no such entry", s)
				}
			}
		}
		if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return err
		}
	}
	if trunc >= 0 {
		return os.Truncate(path, trunc)
	}
	return nil
}

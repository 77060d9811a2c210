// Command anchors shows why a flight recorder's proof must live off its
// host. A kernel records into a recorder file and publishes a signed anchor
// of the chain (both its ends) every few entries to a NATS JetStream stream
// (an embedded nats-server, in this process, on a random loopback port,
// with its store in a temporary directory removed at the end). An agent's
// destructive query is denied and the agent killed. Then someone with
// write access to the file tries two ways to hide that:
//
//  1. delete the oldest entries (the denial and the kill among them) and
//     move the file's genesis onto the last deleted one, leaving every
//     hash as it was: the chain itself no longer starts at the zero
//     genesis, and the anchors say where it must start;
//
//  2. rewrite the whole file from the zero genesis without those entries,
//     recomputing every hash: a valid chain, which only the anchors
//     fetched back from the stream reveal.
//
// Run it with:
//
//	go run ./examples/anchors
package main

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	_ "github.com/mattn/go-sqlite3"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

const policyYAML = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: anchors, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: sql-read
      effect: allow
      when: action.op == "exec" && action.tool == "sql.query" && sql.readonly(action.args.query)
    - name: no-destructive-sql
      effect: deny
      severity: critical
      when: action.op == "exec" && action.tool == "sql.query" && sql.destructive(action.args.query)
      message: destructive SQL is not allowed
`

// source names the recorder in its anchors.
const source = "example-host:/var/lib/agentos/audit.db"

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	err := run(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "anchors:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "agentos-anchors-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(filepath.Join(dir, "nats"))
	if err != nil {
		return err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	stream, err := natsbus.NewAnchorStream(ctx, nc, nil)
	if err != nil {
		return err
	}

	// The signing key stays with the kernel's operator; verifiers get the
	// public key.
	pubKey, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "audit.db")
	if err := record(ctx, path, key, stream); err != nil {
		return err
	}
	original, err := os.ReadFile(path)
	if err != nil {
		return err
	}

	step("a verifier fetches the anchors back from the stream")
	signed, err := stream.Fetch(ctx, source)
	if err != nil {
		return err
	}
	anchors, err := recorder.VerifySignatures(pubKey, source, signed)
	if err != nil {
		return err
	}
	last := anchors[len(anchors)-1]
	fmt.Printf("  %d signed anchors, signatures valid; the last covers entries %d..%d\n", len(anchors), last.GenesisSeq+1, last.Seq)
	if err := check(ctx, path, anchors); err != nil {
		return err
	}

	step("attack 1: delete the oldest entries and move the genesis (no hash recomputed)")
	cut, err := killSeq(ctx, path)
	if err != nil {
		return err
	}
	if err := deletePrefix(ctx, path, cut); err != nil {
		return err
	}
	fmt.Printf("  entries 1..%d deleted (the denial and the kill), genesis set to entry %d, triggers restored\n", cut, cut)
	if err := check(ctx, path, anchors); err != nil {
		return err
	}

	step("attack 2: rewrite the file without those entries, every hash recomputed")
	if err := os.WriteFile(path, original, 0o600); err != nil {
		return err
	}
	n, err := rewrite(ctx, path, cut)
	if err != nil {
		return err
	}
	fmt.Printf("  %d entries re-chained from the zero genesis\n", n)
	return check(ctx, path, anchors)
}

// record runs a kernel that publishes anchors every 4 entries while an
// agent queries, then tries to drop a table.
func record(ctx context.Context, path string, key ed25519.PrivateKey, sink recorder.AnchorSink) error {
	step("a kernel records into " + filepath.Base(path) + " and publishes signed anchors to JetStream")
	rec, err := recorder.Open(path, nil)
	if err != nil {
		return err
	}
	defer rec.Close()
	pub, err := recorder.NewPublisher(rec, key, sink, &recorder.PublisherOptions{
		Source: source, Every: 4, Interval: time.Second,
		OnError: func(err error) { fmt.Fprintln(os.Stderr, "  anchor not published:", err) },
	})
	if err != nil {
		return err
	}
	defer pub.Close()
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", []byte(policyYAML)),
		kernel.WithAnchors(rec, pub),
		kernel.WithTool("sql.query", func(context.Context, map[string]any) (any, error) { return "42 rows", nil }),
	)
	if err != nil {
		return err
	}
	a, err := k.Spawn(ctx, "agent-001")
	if err != nil {
		k.Close()
		return err
	}
	_, err = a.Exec(ctx, "sql.query", map[string]any{"query": "DROP TABLE orders"})
	var v *agentos.PolicyViolation
	if !errors.As(err, &v) {
		k.Close()
		return fmt.Errorf("DROP TABLE was not denied: %v", err)
	}
	fmt.Printf("  DROP TABLE denied by %s, agent-001 %s\n", v.Decision.Rule, a.State())
	b, err := k.Spawn(ctx, "agent-002")
	if err != nil {
		k.Close()
		return err
	}
	for i := range 5 {
		if _, err := b.Exec(ctx, "sql.query", map[string]any{"query": fmt.Sprintf("SELECT %d", i)}); err != nil {
			k.Close()
			return err
		}
	}
	fmt.Println("  agent-002 ran 5 queries")
	if err := k.Close(); err != nil { // publishes the final head
		return err
	}
	final, _ := pub.Last()
	fmt.Printf("  kernel closed; the final anchor covers entries 1..%d\n", final.Anchor.Seq)
	return nil
}

// check verifies the file with and without the anchors.
func check(ctx context.Context, path string, anchors []recorder.Anchor) error {
	rec, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer rec.Close()
	rep, err := rec.Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Println("  Verify:               ", verdict(rep))
	rep, err = rec.VerifyAnchors(ctx, anchors)
	if err != nil {
		return err
	}
	fmt.Println("  VerifyAnchors(stream):", verdict(rep))
	return nil
}

func verdict(rep recorder.Report) string {
	if rep.OK {
		return fmt.Sprintf("ok, %d entries", rep.Entries)
	}
	return fmt.Sprintf("TAMPERED at seq %d (%s): %s", rep.Broken.Seq, rep.Broken.Reason, rep.Broken.Detail)
}

// killSeq returns the sequence of the signal entry that killed agent-001.
func killSeq(ctx context.Context, path string) (uint64, error) {
	rec, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer rec.Close()
	for e, err := range rec.Query(ctx, recorder.Filter{Agent: "agent-001", Kind: recorder.KindSignal}) {
		if err != nil {
			return 0, err
		}
		return e.Seq, nil
	}
	return 0, errors.New("no kill recorded")
}

// tamper drops the recorder's append-only triggers, runs f in one
// transaction and restores the triggers, as an attacker with write access
// to the file would.
func tamper(ctx context.Context, path string, f func(tx *sql.Tx) error) error {
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT name, sql FROM sqlite_schema WHERE type='trigger'")
	if err != nil {
		return err
	}
	triggers := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return err
		}
		triggers[name] = def
	}
	rows.Close()
	for name := range triggers {
		if _, err := tx.ExecContext(ctx, "DROP TRIGGER "+name); err != nil {
			return err
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	for _, def := range triggers {
		if _, err := tx.ExecContext(ctx, def); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// deletePrefix deletes entries 1..cut and sets the genesis to entry cut.
func deletePrefix(ctx context.Context, path string, cut uint64) error {
	return tamper(ctx, path, func(tx *sql.Tx) error {
		var h []byte
		if err := tx.QueryRowContext(ctx, "SELECT hash FROM entries WHERE seq=?", cut).Scan(&h); err != nil {
			return err
		}
		for _, s := range []struct {
			q    string
			args []any
		}{
			{"DELETE FROM entries WHERE seq <= ?", []any{cut}},
			{"UPDATE meta SET value=? WHERE key='genesis_seq'", []any{cut}},
			{"UPDATE meta SET value=? WHERE key='genesis_hash'", []any{h}},
		} {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// rewrite replaces the file's entries by those after cut, renumbered from
// 1 and re-chained from the zero genesis with recomputed hashes.
func rewrite(ctx context.Context, path string, cut uint64) (int, error) {
	rec, err := recorder.Open(path, &recorder.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	var keep []recorder.Entry
	for e, err := range rec.Query(ctx, recorder.Filter{After: cut}) {
		if err != nil {
			rec.Close()
			return 0, err
		}
		keep = append(keep, e)
	}
	if err := rec.Close(); err != nil {
		return 0, err
	}
	err = tamper(ctx, path, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM entries"); err != nil {
			return err
		}
		var prev recorder.Hash
		for i, e := range keep {
			e.Seq, e.PrevHash = uint64(i+1), prev
			e.Hash = recorder.ComputeHash(prev, e)
			prev = e.Hash
			meta, err := storedMeta(e.Meta)
			if err != nil {
				return err
			}
			args := []byte(e.Args)
			if args == nil {
				args = []byte{}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO entries (seq, time, trace, agent, kind, op, tool, path,
				target, args, payload_type, meta, policy_version, rule, effect, message, severity, status, error,
				duration, result_digest, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
				int64(e.Seq), e.Time.UnixNano(), e.Trace, string(e.Agent), string(e.Kind), string(e.Op), e.Tool, e.Path,
				string(e.Target), args, e.PayloadType, meta, e.PolicyVersion, e.Rule, int64(e.Effect), e.Message,
				int64(e.Severity), string(e.Status), e.Error, int64(e.Duration), e.ResultDigest, e.Detail,
				e.PrevHash[:], e.Hash[:]); err != nil {
				return err
			}
		}
		return nil
	})
	return len(keep), err
}

func startServer(dir string) (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName:         "agentos-anchors",
		Host:               "127.0.0.1",
		Port:               server.RANDOM_PORT,
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  256 << 20,
		NoLog:              true,
		NoSigs:             true,
	})
	if err != nil {
		return nil, err
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats-server did not start")
	}
	return srv, nil
}

func step(s string) { fmt.Println("\n== " + s) }

// storedMeta is the meta column as the recorder writes it: the canonical
// JSON object (keys sorted, no HTML escaping), or "" when empty. The
// attacker knows the format as well as the recorder does.
func storedMeta(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

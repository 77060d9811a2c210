// Package natstest runs real, embedded NATS servers with JetStream for
// tests of package natsbus and of programs built on it: one server on a
// random loopback port with its store in a temporary directory, a server
// restart on the same port and store, and an n-node cluster.
package natstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is one embedded nats-server. It is shut down by the test's
// cleanup.
type Server struct {
	tb   testing.TB
	opts server.Options
	srv  *server.Server
}

// Options for [Start]. The zero value is a single server.
type Options struct {
	// Name is the server name (required in a cluster); default "n1".
	Name string
	// StoreDir holds JetStream's files; default a new t.TempDir().
	StoreDir string
	// Port is the client port; default a free loopback port.
	Port int
	// Cluster, ClusterPort and Routes join a cluster.
	Cluster     string
	ClusterPort int
	Routes      []string
}

// Start starts a server and waits until it accepts connections.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Name == "" {
		o.Name = "n1"
	}
	if o.StoreDir == "" {
		o.StoreDir = tb.TempDir()
	}
	if o.Port == 0 {
		o.Port = FreePort(tb)
	}
	opts := server.Options{
		ServerName: o.Name,
		Host:       "127.0.0.1",
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoLog:      true,
		NoSigs:     true,
		// Small limits keep a test server light.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  256 << 20,
	}
	if o.Cluster != "" {
		opts.Cluster = server.ClusterOpts{Name: o.Cluster, Host: "127.0.0.1", Port: o.ClusterPort}
		opts.Routes = server.RoutesFromStr(strings.Join(o.Routes, ","))
	}
	s := &Server{tb: tb, opts: opts}
	s.start()
	tb.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	opts := s.opts // the server keeps and mutates its options
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.tb.Fatalf("natstest: new server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.tb.Fatalf("natstest: server %s not ready", s.opts.ServerName)
	}
	s.srv = srv
}

// URL is the client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }

// Name is the server name.
func (s *Server) Name() string { return s.opts.ServerName }

// Server returns the running server (nil after Shutdown).
func (s *Server) Server() *server.Server { return s.srv }

// Shutdown stops the server and waits for it. It is idempotent.
func (s *Server) Shutdown() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart shuts the server down and starts it again on the same port and
// store directory.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Shutdown()
	s.start()
}

// Start starts a server that was shut down, with its old port and store.
func (s *Server) Start() {
	s.tb.Helper()
	if s.srv == nil {
		s.start()
	}
}

// StartCluster starts an n-node cluster named "amb" on loopback and
// returns its servers.
func StartCluster(tb testing.TB, n int) []*Server {
	tb.Helper()
	cports := make([]int, n)
	routes := make([]string, n)
	for i := range n {
		cports[i] = FreePort(tb)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", cports[i])
	}
	servers := make([]*Server, n)
	for i := range n {
		servers[i] = Start(tb, Options{
			Name: fmt.Sprintf("n%d", i+1), Cluster: "amb", ClusterPort: cports[i], Routes: routes,
		})
	}
	return servers
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("natstest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

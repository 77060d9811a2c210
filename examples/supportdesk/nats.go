package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// cluster is nats-servers with JetStream running in this process, routed
// to each other on loopback.
type cluster []*server.Server

// startCluster starts n servers (one, unclustered, when n is 1), their
// stores under dir.
func startCluster(dir string, n int) (cluster, error) {
	if n < 1 || n > 5 {
		return nil, fmt.Errorf("nodes: %d, want 1 to 5", n)
	}
	var routes []*url.URL
	ports := make([]int, n)
	if n > 1 {
		for i := range ports {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
	}
	var c cluster
	for i := range n {
		opts := &server.Options{
			ServerName:         fmt.Sprintf("desk-%d", i+1),
			Host:               "127.0.0.1",
			Port:               server.RANDOM_PORT,
			JetStream:          true,
			StoreDir:           filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			JetStreamMaxMemory: 64 << 20,
			JetStreamMaxStore:  256 << 20,
			NoLog:              true,
			NoSigs:             true,
		}
		if n > 1 {
			opts.Cluster = server.ClusterOpts{Name: "desk", Host: "127.0.0.1", Port: ports[i]}
			opts.Routes = routes
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			c.shutdown()
			return nil, err
		}
		srv.Start()
		c = append(c, srv)
		if !srv.ReadyForConnections(10 * time.Second) {
			c.shutdown()
			return nil, errors.New("nats-server did not start")
		}
	}
	return c, nil
}

// urls is the client URL of every server, comma-separated.
func (c cluster) urls() string {
	u := make([]string, len(c))
	for i, s := range c {
		u[i] = s.ClientURL()
	}
	return strings.Join(u, ",")
}

func (c cluster) shutdown() {
	for _, s := range c {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

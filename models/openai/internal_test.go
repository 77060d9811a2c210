package openai

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefaultTransportIgnoresProxyEnv: http.DefaultTransport takes its proxy
// from HTTP_PROXY/HTTPS_PROXY; the client's default transport must not.
func TestDefaultTransportIgnoresProxyEnv(t *testing.T) {
	c, err := New(Config{Model: "m"})
	require.NoError(t, err)
	tr, ok := c.cfg.HTTPClient.Transport.(*http.Transport)
	require.True(t, ok)
	assert.Nil(t, tr.Proxy)
	assert.NotSame(t, http.DefaultTransport, tr)
}

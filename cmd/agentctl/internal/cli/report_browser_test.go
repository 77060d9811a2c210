//go:build unix

package cli

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// The browser tests open pages that agentctl report wrote in a real
// headless Chromium: the DOM it builds (--dump-dom) must hold the page's
// elements, and a screenshot must show them (the chain-status badge in its
// colour, denials in theirs). Without a browser on PATH they skip, unless
// AGENTOS_REQUIRE_BROWSER=1 (set by .ci/run), which makes that a failure.

// reportBrowserTimeout bounds one browser run; a first start on a cold CI
// machine takes a few seconds.
const reportBrowserTimeout = 90 * time.Second

// reportBrowser returns the path of a Chromium-like browser, or skips.
func reportBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("AGENTOS_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium, chromium-browser or google-chrome on PATH, and AGENTOS_REQUIRE_BROWSER=1")
	}
	t.Skip("no chromium on PATH: install it (apt-get install chromium) to run the browser tests; AGENTOS_REQUIRE_BROWSER=1 makes its absence a failure")
	return ""
}

// reportChromium runs the browser headless on the page file with args and
// returns its standard output. Every run gets a fresh profile, no network
// (every host name resolves to nothing; the page's CSP forbids loading
// anyway) and a deadline; the browser and its child processes are killed
// at the deadline.
func reportChromium(t *testing.T, browser, page string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), reportBrowserTimeout)
	defer cancel()
	home := t.TempDir()
	argv := append([]string{
		"--headless=new", "--no-sandbox", "--disable-gpu",
		"--user-data-dir=" + filepath.Join(home, "profile"),
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--force-device-scale-factor=1",
	}, args...)
	argv = append(argv, (&url.URL{Scheme: "file", Path: page}).String())
	cmd := exec.CommandContext(ctx, browser, argv...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	// Its own process group, so that the deadline ends the renderer and
	// the other children too, not only the browser process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		// Children left behind by a browser that exited: end the group.
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Logf("ending the browser's process group: %v", kerr)
		}
	}
	require.NoError(t, ctx.Err(), "the browser did not finish within %v; stderr:\n%s", reportBrowserTimeout, reportTail(stderr.String()))
	require.NoError(t, err, "browser stderr:\n%s", reportTail(stderr.String()))
	return stdout.Bytes()
}

func reportTail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// reportWritePage runs agentctl report on the recorder and returns the
// page's path.
func reportWritePage(t *testing.T, recorderPath string, wantCode int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.html")
	code, _, stderr := reportRun("report", recorderPath, "-o", out)
	require.Equal(t, wantCode, code, stderr)
	return out
}

// reportRGB parses "#rrggbb".
func reportRGB(t *testing.T, hex string) [3]uint8 {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	require.NoError(t, err)
	return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)}
}

// reportPixels counts the pixels of a screenshot by colour: near is how
// many are within 3 of each given colour in every channel; painted, how
// many are not white.
type reportPixels struct {
	near    map[string]int
	painted int
	total   int
}

func reportCount(t *testing.T, shot string, colours ...string) reportPixels {
	t.Helper()
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, "the screenshot is not a PNG")
	b := img.Bounds()
	require.Equal(t, image.Pt(1280, 2000), b.Size(), "screenshot size")
	want := map[string][3]uint8{}
	for _, c := range colours {
		want[c] = reportRGB(t, c)
	}
	px := reportPixels{near: map[string]int{}}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			p := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
			px.total++
			if p != [3]uint8{255, 255, 255} {
				px.painted++
			}
			for name, c := range want {
				if reportClose(p, c, 3) {
					px.near[name]++
				}
			}
		}
	}
	return px
}

func reportClose(a, b [3]uint8, tol int) bool {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < -tol || d > tol {
			return false
		}
	}
	return true
}

// reportScreenshot takes a 1280×2000 screenshot of the page.
func reportScreenshot(t *testing.T, browser, page string) string {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "shot.png")
	reportChromium(t, browser, page, "--screenshot="+shot, "--window-size=1280,2000")
	fi, err := os.Stat(shot)
	require.NoError(t, err, "no screenshot written")
	require.NotZero(t, fi.Size())
	return shot
}

// reportBrowserDOM dumps the DOM the browser built from the page.
func reportBrowserDOM(t *testing.T, browser, page string) *html.Node {
	t.Helper()
	dom := reportChromium(t, browser, page, "--dump-dom")
	require.Contains(t, string(dom), "chain-status", "the browser's DOM:\n%s", reportTail(string(dom)))
	return reportDOM(t, dom)
}

func TestReportBrowserGoodChain(t *testing.T) {
	browser := reportBrowser(t)
	page := reportWritePage(t, reportKernelFile(t, t.TempDir(), 20), ExitOK)

	doc := reportBrowserDOM(t, browser, page)
	status := reportByID(t, doc, "chain-status")
	require.True(t, reportHasClass(status, "ok"))
	require.Contains(t, reportText(status), "chain verified")
	agents := map[string]int{}
	for _, svg := range reportFind(doc, func(n *html.Node) bool { return n.Data == "svg" && reportHasClass(n, "agent-timeline") }) {
		a, _ := reportAttr(svg, "data-agent")
		agents[a] = len(reportFind(svg, func(n *html.Node) bool { return reportHasClass(n, "mark") }))
	}
	require.Positive(t, agents["alice"], "alice's timeline in the browser's DOM")
	require.Positive(t, agents["bob"], "bob's timeline in the browser's DOM")
	reportByID(t, doc, "denials-by-rule")
	reportByID(t, doc, "agent-counts")

	px := reportCount(t, reportScreenshot(t, browser, page), reportColourOK, reportColourBroken, reportColourDeny)
	require.Greater(t, px.painted, px.total/50, "the screenshot is (nearly) blank")
	require.Greater(t, px.near[reportColourOK], 2000, "the green chain-status badge is not in the screenshot")
	require.Zero(t, px.near[reportColourBroken], "a red chain-status badge in the screenshot of a good chain")
	require.Greater(t, px.near[reportColourDeny], 200, "no denial drawn in the screenshot")
}

func TestReportBrowserTamperedChain(t *testing.T) {
	browser := reportBrowser(t)
	path := reportKernelFile(t, t.TempDir(), 20)
	reportTamper(t, path, 9)
	page := reportWritePage(t, path, ExitCheck)

	doc := reportBrowserDOM(t, browser, page)
	status := reportByID(t, doc, "chain-status")
	require.True(t, reportHasClass(status, "broken"))
	seq, _ := reportAttr(status, "data-seq")
	require.Equal(t, "9", seq)
	require.Contains(t, reportText(status), "chain broken at seq 9")

	px := reportCount(t, reportScreenshot(t, browser, page), reportColourOK, reportColourBroken)
	require.Greater(t, px.painted, px.total/50, "the screenshot is (nearly) blank")
	require.Greater(t, px.near[reportColourBroken], 2000, "the red chain-status badge is not in the screenshot")
	require.Zero(t, px.near[reportColourOK], "a green chain-status badge in the screenshot of a broken chain")
}

// TestReportBrowserRunsNothing opens a page whose recorder names agents,
// rules and paths with markup and script: the browser must build no
// element from them and run nothing (a script that ran would have
// changed the title).
func TestReportBrowserRunsNothing(t *testing.T) {
	browser := reportBrowser(t)
	dir := t.TempDir()
	path := reportHostileFile(t, dir, []string{
		`<script>document.title="pwned"</script>`,
		`<img src=x onerror="document.title='pwned'">`,
		`<svg onload="document.title='pwned'"></svg>`,
		`<style>body{display:none}</style>`,
	})
	page := reportWritePage(t, path, ExitOK)
	doc := reportBrowserDOM(t, browser, page)
	reportAssertSelfContained(t, doc)
	titles := reportFind(doc, func(n *html.Node) bool { return n.Data == "title" && n.Parent != nil && n.Parent.Data == "head" })
	require.Len(t, titles, 1)
	require.True(t, strings.HasPrefix(reportText(titles[0]), "Flight recorder report: "), reportText(titles[0]))
	require.Len(t, reportFind(doc, func(n *html.Node) bool { return n.Data == "style" }), 1, "only the page's own style sheet")

	px := reportCount(t, reportScreenshot(t, browser, page), reportColourOK)
	require.Greater(t, px.near[reportColourOK], 2000, "the page did not render (a recorded style hid it?)")
}

func TestReportBrowserHelpers(t *testing.T) {
	require.Equal(t, [3]uint8{0x1a, 0x7f, 0x37}, reportRGB(t, reportColourOK))
	require.True(t, reportClose([3]uint8{10, 10, 10}, [3]uint8{13, 7, 10}, 3))
	require.False(t, reportClose([3]uint8{10, 10, 10}, [3]uint8{14, 10, 10}, 3))
	require.Equal(t, "…"+strings.Repeat("x", 4000), reportTail(strings.Repeat("x", 4100)))
	require.Equal(t, "file:///tmp/a%20b/r.html", (&url.URL{Scheme: "file", Path: "/tmp/a b/r.html"}).String(), "page URLs are escaped")
}

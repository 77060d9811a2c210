package lexical

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t\n", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"http.NewRequest", []string{"http.newrequest", "http", "newrequest", "new", "request"}},
		{"max_tokens", []string{"max_tokens", "max", "tokens"}},
		{"HTTPServer", []string{"httpserver", "http", "server"}},
		{"newRequest(ctx)", []string{"newrequest", "new", "request", "ctx"}},
		{"parseURLQuery", []string{"parseurlquery", "parse", "url", "query"}},
		{"utf8Decode X509Certificate Int32 HTTP2Server", []string{
			"utf8decode", "utf8", "decode", "x509certificate", "x509", "certificate", "int32",
			"http2server", "http2", "server"}},
		{"IDs URL getID", []string{"ids", "url", "getid", "get", "id"}},
		{"os.Getenv_Value", []string{"os.getenv_value", "os", "getenv", "value"}},
		{"a..b", []string{"a..b", "a", "b"}},
		{"__init__ .hidden end. _x_", []string{"init", "hidden", "end", "x"}},
		{"... ___ ._.", nil},
		{"version 1.2.3", []string{"version", "1.2.3", "1", "2", "3"}},
		{"x-request-id a/b c::d e$f", []string{"x", "request", "id", "a", "b", "c", "d", "e", "f"}},
		{"Grüße Straße ÉCOLE", []string{"grüße", "straße", "école"}},
		{"Cafe\u0301Bar", []string{"cafe\u0301bar", "cafe\u0301", "bar"}},
		{"ΑθήναΠόλη", []string{"αθήναπόλη", "αθήνα", "πόλη"}},
		{"Привет мир", []string{"привет", "мир"}},
		{"东京タワーは", []string{"东", "京", "タ", "ワ", "ー", "は"}}, // ー is a modifier letter
		{"URLsList APIsX IDsAreOK", []string{"urlslist", "urls", "list", "apisx", "apis", "x", "idsareok", "ids", "are", "ok"}},
		{"go语言", []string{"go", "语", "言"}},
		{"١٢٣ arabic-indic digits", []string{"١٢٣", "arabic", "indic", "digits"}},
		{"bad\xffutf8\xc3", []string{"bad", "utf8"}},
		{"\xe2\x82 half", []string{"half"}},
		{"real \ufffd replacement", []string{"real", "replacement"}},
		{"emoji😀between", []string{"emoji", "between"}},
	} {
		t.Run(c.in, func(t *testing.T) {
			assert.Equal(t, c.want, Tokenize(c.in))
		})
	}
}

func TestTokenizeBounds(t *testing.T) {
	t.Run("many tokens", func(t *testing.T) {
		toks := Tokenize(strings.Repeat("ab ", MaxTokens+10))
		assert.Len(t, toks, MaxTokens)
		// Identifiers give several tokens each; the cap still holds.
		toks = Tokenize(strings.Repeat("aB.cD ", MaxTokens))
		assert.Len(t, toks, MaxTokens)
		// Ideographs are one token each.
		toks = Tokenize(strings.Repeat("语", MaxTokens+1))
		assert.Len(t, toks, MaxTokens)
	})
	t.Run("long word", func(t *testing.T) {
		w := strings.Repeat("a", 3*MaxWordBytes+5)
		toks := Tokenize(w)
		require.Equal(t, []string{strings.Repeat("a", MaxWordBytes), strings.Repeat("a", MaxWordBytes), strings.Repeat("a", MaxWordBytes), "aaaaa"}, toks)
	})
	t.Run("long word cut at a character boundary", func(t *testing.T) {
		w := "a" + strings.Repeat("é", MaxWordBytes) // 2 bytes each
		for _, tok := range Tokenize(w) {
			assert.True(t, utf8.ValidString(tok))
			assert.LessOrEqual(t, len(tok), MaxWordBytes)
		}
	})
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"http.NewRequest", "max_tokens HTTPServer", "bad\xffutf8", "东京タワー", "__a.__b_", "Cafe\u0301Bar x509Cert", "ǅemal ǈ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := Tokenize(s)
		if len(toks) > MaxTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		for _, tok := range toks {
			if tok == "" || len(tok) > MaxWordBytes || !utf8.ValidString(tok) {
				t.Fatalf("bad token %q", tok)
			}
			if tok[0] == '.' || tok[0] == '_' || tok[len(tok)-1] == '.' || tok[len(tok)-1] == '_' {
				t.Fatalf("token %q starts or ends with a joiner", tok)
			}
			for _, r := range tok {
				if !isWordRune(r) && !isIdeograph(r) && r != '.' && r != '_' {
					t.Fatalf("token %q holds separator %q", tok, r)
				}
				if unicode.IsUpper(r) && unicode.ToLower(r) != r {
					t.Fatalf("token %q holds upper case %q", tok, r)
				}
			}
		}
		if again := Tokenize(s); !equal(toks, again) {
			t.Fatalf("not deterministic: %q then %q", toks, again)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

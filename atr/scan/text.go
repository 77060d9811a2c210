package scan

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// class groups the patterns whose co-occurrence in one text raises the
// stakes: a secret next to a destination is exfiltration.
type class uint8

const (
	classNone        class = iota
	classSecretFile        // a path that holds credentials
	classCredential        // words naming credentials
	classDestination       // a URL, an IP address, a network command
	classTransfer          // a verb that moves data somewhere
)

type pattern struct {
	// need lists substrings of which a match must contain one: the
	// pattern is run only on text that holds one of them.
	need  []string
	re    *regexp.Regexp
	kind  Kind
	sev   Severity
	class class
	msg   string
}

func p(kind Kind, sev Severity, cl class, msg, need, re string) pattern {
	return pattern{need: strings.Split(need, "|"), re: regexp.MustCompile(re), kind: kind, sev: sev, class: cl, msg: msg}
}

// patterns run on folded text (see fold): lower case, look-alikes mapped to
// ASCII, white space collapsed. RE2 matching is linear in the text.
var patterns = []pattern{
	// Hidden markup.
	p(KindHiddenMarkup, SeverityHigh, classNone, "HTML comment (hidden when rendered)", "<!--", `<!--`),
	p(KindHiddenMarkup, SeverityHigh, classNone, "Markdown comment (hidden when rendered)", "]:", `(?m)^\s*\[(?://|comment|_|#)\]: ?[#<(]`),
	p(KindHiddenMarkup, SeverityHigh, classNone, "element styled invisible", "style",
		`style ?= ?["'][^"'>]{0,200}?(display ?: ?none|visibility ?: ?hidden|font-size ?: ?0|opacity ?: ?0|color ?: ?(white|#fff\b|#ffffff|transparent))`),
	p(KindHiddenMarkup, SeverityHigh, classNone, "element marked hidden", "hidden", `<[a-z][a-z0-9]*\b[^<>]{0,200}?\b(hidden|aria-hidden ?= ?"true")[^<>]{0,200}?>`),
	p(KindHiddenMarkup, SeverityLow, classNone, "collapsed <details> block", "<details", `<details\b`),

	// Instructions aimed at the model.
	p(KindInjection, SeverityCritical, classNone, "instruction to ignore earlier instructions", "ignore|disregard|forget",
		`\b(ignore|disregard|forget)\b[^.\n]{0,40}?\b(previous|prior|above|earlier|preceding|all|any|other|system|safety|original|your)\b[^.\n]{0,24}?\b(instructions?|prompts?|rules|directions|guidelines|directives|constraints|polic(y|ies))\b`),
	p(KindInjection, SeverityCritical, classNone, "instruction to override earlier instructions", "overrid|overrul|bypass|supersede",
		`\b(override|overrule|bypass|supersede)\b[^.\n]{0,40}?\b(previous|prior|above|earlier|preceding|system|safety|original|your)\b[^.\n]{0,24}?\b(instructions?|prompts?|rules|directions|guidelines|directives|constraints|polic(y|ies))\b`),
	p(KindInjection, SeverityHigh, classNone, "instruction to hide something from the user", "user|human|operator|person",
		`\b(do not|don't|dont|never|must not|should not|shouldn't|without)\b[^.\n]{0,30}?\b(tell|telling|inform|informing|mention|mentioning|reveal|revealing|disclose|disclosing|alert|alerting|notify|notifying|show|showing|let)\b[^.\n]{0,24}?\b(the )?(user|human|operator|person)\b`),
	p(KindInjection, SeverityHigh, classNone, "instruction to hide something from the user", "user",
		`\b(the )?user (must|should|will|need) not (know|see|notice|be told|find out|be aware)|\bwithout the user(’s|'s)? (knowing|knowledge|consent|noticing)\b`),
	p(KindInjection, SeverityHigh, classNone, "instruction to keep something from the user", "mention|reveal|disclose|say",
		`\b(do not|don't|dont|never)\b (mention|reveal|disclose|say)\b (this|that|it|these|anything)\b`),
	p(KindInjection, SeverityHigh, classNone, "instruction tag", "system|important|instruction|secret|hidden|admin|assistant|sys|im_|endoftext|inst",
		`<\s*/?\s*(system|important|instructions?|secret|hidden|admin|assistant|sys|im_start|im_end|\|im_start\||\|im_end\||\|system\||\|endoftext\|)\s*>|\[/?(system|inst|important|instructions?)\]|<<\s*/?\s*sys\s*>>`),
	p(KindInjection, SeverityMedium, classNone, "role marker at the start of a line", "system|assistant|developer",
		`(?m)^\s*(#+\s*)?(system|assistant|developer)( prompt| message| instructions?)?\s*:`),
	p(KindInjection, SeverityHigh, classNone, "attempt to change the model's role", "you are now|from now on|instruction|act as|jailbreak|dan mode|developer mode|pretend",
		`\byou are now\b|\bfrom now on,? you\b|\bnew (system )?instructions?\s*:|\bact as (a |an |the )?(system|admin|administrator|root|developer|jailbroken)\b|\b(jailbreak|dan mode|developer mode)\b|\bpretend (to be|you are)\b`),
	p(KindInjection, SeverityHigh, classNone, "text addressed to the model", "assistant|ai|model|llm|agent|side|claude|gpt",
		`\b(note|message|instructions?) (to|for) (the )?(assistant|ai|model|llm|agent)\b|\bside ?note\b|^\s*(assistant|ai|claude|chatgpt|gpt|llm|model)\s*[,:]\s`),
	p(KindInjection, SeverityMedium, classNone, "instruction about using tools", "before|after|instead of|prior to",
		`\b(before|after|instead of|prior to)\b (using|calling|invoking|running|executing|answering)\b[^.\n]{0,40}?\b(this|any|the|other|every)\b[^.\n]{0,30}?\b(tools?|functions?|request)\b`),
	p(KindInjection, SeverityMedium, classNone, "reference to the model's hidden context", "prompt|instructions|history|previous messages",
		`\b(system prompt|your instructions|initial instructions|conversation history|chat history|previous messages|hidden instructions)\b`),
	p(KindInjection, SeverityLow, classNone, "imperative aimed at the model", "you must|you are required|it is", `\byou must\b|\byou are required to\b|\bit is (very |extremely )?(important|critical|mandatory) (that|to)\b`),
	p(KindInjection, SeverityLow, classNone, "emphasis marker", "important", `(^|[\s*#])important\s*[:!]`),

	// Exfiltration hints.
	p(KindExfiltration, SeverityHigh, classSecretFile, "reference to a file that holds secrets", ".ssh|id_|.aws/|/etc/|.npmrc|.netrc|.pgpass|.docker/|.kube/|mcp.json|.cursor/|claude_desktop_config|.git-credentials|_history|wallet.dat|.gnupg|keychain",
		`~/\.ssh\b|\.ssh/|\bid_(rsa|ed25519|ecdsa|dsa)\b|\.aws/(credentials|config)|/etc/(passwd|shadow|sudoers)\b|\.npmrc\b|\.netrc\b|\.pgpass\b|\.docker/config\.json|\.kube/config|\bmcp\.json\b|\.cursor/|claude_desktop_config|\.git-credentials|_history\b|\bwallet\.dat\b|\.gnupg\b|\bkeychain\b`),
	p(KindExfiltration, SeverityMedium, classSecretFile, "reference to a .env file", ".env", `(^|[\s/"'(=:])\.env\b`),
	p(KindExfiltration, SeverityLow, classCredential, "mentions credentials", "api|token|key|password|passphrase|credential|cookie|seed|mnemonic|env",
		`\b(api[ _-]?keys?|access[ _-]?tokens?|secret[ _-]?keys?|private[ _-]?keys?|passwords?|passphrases?|credentials?|bearer tokens?|session (cookies?|tokens?)|auth(entication)? tokens?|seed phrases?|mnemonic phrases?|environment variables?|env vars?|process\.env|os\.environ)\b`),
	p(KindExfiltration, SeverityLow, classDestination, "URL", "//", `\b(https?|ftp|wss?|file|gopher|data)://[^\s"'<>)\]]+|\b(https?|ftp)\s*:\s*//`),
	p(KindExfiltration, SeverityMedium, classDestination, "IP address", ".", `\b((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b`),
	p(KindExfiltration, SeverityMedium, classDestination, "network command", "curl|wget|netcat|ncat|socat|telnet|scp|sftp|nc|invoke-|iwr",
		`\b(curl|wget|netcat|ncat|socat|telnet|scp|sftp)\b|\bnc\s+(-[a-z]+\s+)*[a-z0-9.-]+\s+[0-9]{2,5}\b|\b(invoke-webrequest|iwr|invoke-restmethod)\b`),
	p(KindExfiltration, SeverityLow, classTransfer, "verb that moves data", "send|post|upload|forward|transmit|exfiltrat|leak",
		`\b(send|sends|sending|post|posts|posting|upload|uploads|uploading|forward|forwards|forwarding|transmit|transmits|exfiltrat\w*|leak|leaks)\b[^.\n]{0,40}?\b(to|into|at)\b|\bupload(s|ed|ing)?\b|\bexfiltrat\w*`),
	p(KindExfiltration, SeverityMedium, classTransfer, "instruction to carry content in an argument", "content|text|value",
		`\b(pass|include|put|embed|append|add|insert|copy)\b[^.\n]{0,12}?\b(its|the|their|this|that|file)\b[^.\n]{0,12}?\b(contents?|text|value)\b[^.\n]{0,24}?\b(as|in|into|to|inside)\b`),
}

// scanText scans one text field. depth counts how many decodings led to it.
func (s *Scanner) scanText(c *collector, field, text string, depth int) {
	if c.budget <= 0 {
		if !c.exhausted {
			c.exhausted = true
			c.add(Finding{Kind: KindOversized, Severity: SeverityHigh, Field: field,
				Message: fmt.Sprintf("the definition holds more than %d bytes of text; the rest was not scanned", s.o.MaxTotalBytes)})
		}
		return
	}
	if limit := min(s.o.MaxTextBytes, c.budget); len(text) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		c.add(Finding{Kind: KindOversized, Severity: SeverityHigh, Field: field, Offset: cut,
			Message:  fmt.Sprintf("text of %d bytes; only the first %d were scanned", len(text), cut),
			Evidence: evidence(text, cut, cut)})
		text = text[:cut]
	}
	c.budget -= max(len(text), 1)
	if !utf8.ValidString(text) {
		i := firstInvalid(text)
		c.add(Finding{Kind: KindInvisible, Severity: SeverityMedium, Field: field, Offset: i,
			Message: "text is not valid UTF-8", Evidence: evidence(text, i, i+1)})
	}
	s.scanInvisible(c, field, text, depth)
	scanConfusable(c, field, text, SeverityMedium)
	scanHiddenText(c, field, text)

	f := fold(text)
	var (
		has        [5]bool
		injection  Severity
		firstSens  = -1
		firstDest  = -1
		classFound = func(cl class, at int) {
			has[cl] = true
			switch cl {
			case classSecretFile, classCredential:
				if firstSens < 0 {
					firstSens = at
				}
			case classDestination, classTransfer:
				if firstDest < 0 {
					firstDest = at
				}
			}
		}
	)
	for _, pt := range patterns {
		if !containsAny(f.s, pt.need) {
			continue
		}
		locs := pt.re.FindAllStringIndex(f.s, 8)
		for _, l := range locs {
			from, to := f.origin(l[0]), f.origin(l[1])
			c.add(Finding{Kind: pt.kind, Severity: pt.sev, Field: field, Offset: from,
				Message: pt.msg, Evidence: evidence(text, from, to)})
			if pt.kind == KindInjection || pt.kind == KindHiddenMarkup {
				injection = max(injection, pt.sev)
			}
			classFound(pt.class, from)
		}
	}
	// Combinations: a secret beside a destination is exfiltration; an
	// instruction beside a destination asks the model to move data. Hidden
	// markup counts as an instruction here: it hides text from the user,
	// not from the model.
	switch {
	case has[classSecretFile] && (has[classDestination] || has[classTransfer] || injection >= SeverityMedium):
		c.add(Finding{Kind: KindExfiltration, Severity: SeverityCritical, Field: field, Offset: firstSens,
			Message: "a secret file and a destination, a transfer or instructions in the same text", Evidence: evidence(text, firstSens, firstSens)})
	case has[classCredential] && has[classDestination] && injection >= SeverityLow:
		c.add(Finding{Kind: KindExfiltration, Severity: SeverityCritical, Field: field, Offset: firstSens,
			Message: "credentials, a destination and instructions in the same text", Evidence: evidence(text, firstSens, firstSens)})
	case has[classCredential] && has[classDestination]:
		c.add(Finding{Kind: KindExfiltration, Severity: SeverityHigh, Field: field, Offset: firstSens,
			Message: "credentials and a destination in the same text", Evidence: evidence(text, firstSens, firstSens)})
	case injection >= SeverityMedium && (has[classDestination] || has[classTransfer] || has[classCredential]):
		c.add(Finding{Kind: KindExfiltration, Severity: SeverityHigh, Field: field, Offset: max(firstDest, firstSens),
			Message: "instructions that move data", Evidence: evidence(text, max(firstDest, firstSens), max(firstDest, firstSens))})
	}
	s.scanBlobs(c, field, text, depth)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func firstInvalid(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return 0
}

// scanInvisible reports runs of invisible characters, one finding per run,
// graded by what they can do: tag characters smuggle ASCII (critical, and
// the decoded text is scanned), bidirectional controls reorder what is
// shown (high), supplementary variation selectors smuggle bytes (high),
// the rest hide text boundaries (medium). A zero-width joiner or a
// variation selector inside an emoji sequence is not reported.
func (s *Scanner) scanInvisible(c *collector, field, text string, depth int) {
	type run struct {
		start, end int
		sev        Severity
		what       string
		tags       strings.Builder
	}
	var cur *run
	flush := func() {
		if cur == nil {
			return
		}
		r := cur
		cur = nil
		c.add(Finding{Kind: KindInvisible, Severity: r.sev, Field: field, Offset: r.start,
			Message: r.what, Evidence: evidence(text, r.start, r.end)})
		if r.tags.Len() > 0 {
			hidden := r.tags.String()
			c.add(Finding{Kind: KindInvisible, Severity: SeverityCritical, Field: field, Offset: r.start,
				Message: "tag characters spell hidden text", Evidence: evidence(hidden, 0, len(hidden))})
			if depth < s.o.MaxDecodeDepth {
				s.scanText(c, fmt.Sprintf("%s/tags@%d", field, r.start), hidden, depth+1)
			}
		}
	}
	prev := rune(-1)
	for i, r := range text {
		if !isInvisible(r) || emojiJoin(text, i, r, prev) {
			flush()
			prev = r
			continue
		}
		sev, what := SeverityMedium, "invisible characters"
		switch {
		case r >= 0xE0000 && r <= 0xE007F:
			sev, what = SeverityCritical, "Unicode tag characters (invisible ASCII)"
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
			sev, what = SeverityHigh, "bidirectional control characters (reorder what is shown)"
		case r >= 0xE0100 && r <= 0xE01EF:
			sev, what = SeverityHigh, "supplementary variation selectors (can encode hidden bytes)"
		}
		if cur == nil {
			cur = &run{start: i, sev: sev, what: what}
		} else if sev > cur.sev {
			cur.sev, cur.what = sev, what
		}
		cur.end = i + utf8.RuneLen(r)
		if r >= 0xE0020 && r <= 0xE007E && cur.tags.Len() < s.o.MaxTextBytes {
			cur.tags.WriteRune(r - 0xE0000)
		}
		prev = r
	}
	flush()
}

// emojiJoin reports whether the invisible r at i is part of an emoji
// sequence: a zero-width joiner between two pictographs, or a single text or
// emoji presentation selector (U+FE0E, U+FE0F) after a symbol.
func emojiJoin(text string, i int, r, prev rune) bool {
	switch r {
	case 0x200D:
		next, _ := utf8.DecodeRuneInString(text[i+3:])
		return isPictograph(prev) && (isPictograph(next) || next == 0x2640 || next == 0x2642)
	case 0xFE0E, 0xFE0F:
		return prev >= 0 && (isPictograph(prev) || unicode.IsDigit(prev) || prev == '#' || prev == '*')
	}
	return false
}

func isPictograph(r rune) bool {
	return r >= 0x1F000 && r <= 0x1FAFF || r >= 0x2600 && r <= 0x27BF || r >= 0x2300 && r <= 0x23FF ||
		r >= 0x2B00 && r <= 0x2BFF || r == 0xFE0F || unicode.Is(unicode.So, r)
}

// scanConfusable reports a word that mixes ASCII letters with look-alikes
// from other scripts (one finding, with the count), at sev.
func scanConfusable(c *collector, field, text string, sev Severity) {
	first, n := -1, 0
	wordStart, ascii, alien := -1, false, -1
	end := func() {
		if wordStart >= 0 && ascii && alien >= 0 {
			if first < 0 {
				first = alien
			}
			n++
		}
		wordStart, ascii, alien = -1, false, -1
	}
	for i, r := range text {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			end()
			continue
		}
		if wordStart < 0 {
			wordStart = i
		}
		if r < utf8.RuneSelf {
			ascii = true
		} else if isLookalikeLetter(r) && alien < 0 {
			alien = i
		}
	}
	end()
	if n > 0 {
		c.add(Finding{Kind: KindConfusable, Severity: sev, Field: field, Offset: first,
			Message: fmt.Sprintf("%d word(s) mix Latin letters with look-alikes from other scripts", n), Evidence: evidence(text, first, first+4)})
	}
}

// Thresholds of hidden text: a run of white space with this many line
// breaks, or this many characters, followed by more text.
const (
	hiddenLines  = 6
	hiddenSpaces = 80
)

func scanHiddenText(c *collector, field, text string) {
	start, lines, n := -1, 0, 0
	for i, r := range text {
		if unicode.IsSpace(r) || isInvisible(r) {
			if start < 0 {
				start, lines, n = i, 0, 0
			}
			n++
			if r == '\n' || r == '\u2028' || r == '\u2029' {
				lines++
			}
			continue
		}
		if start >= 0 && (lines >= hiddenLines || n >= hiddenSpaces) {
			sev := SeverityMedium
			if lines >= 3*hiddenLines || n >= 4*hiddenSpaces {
				sev = SeverityHigh
			}
			c.add(Finding{Kind: KindHiddenText, Severity: sev, Field: field, Offset: i,
				Message:  fmt.Sprintf("text after %d blank characters (%d line breaks)", n, lines),
				Evidence: evidence(text, i, i+48)})
		}
		start = -1
	}
}

var (
	reBase64 = regexp.MustCompile(`[A-Za-z0-9+/_-]{40,}={0,2}`)
	reHex    = regexp.MustCompile(`\b(0x)?[0-9a-fA-F]{40,}\b`)
)

// scanBlobs decodes long base64 and hex runs. Decoded text is reported
// (medium) and scanned again, to MaxDecodeDepth; decoded binary is reported
// as an opaque blob (low: hashes and keys look like this).
func (s *Scanner) scanBlobs(c *collector, field, text string, depth int) {
	seen := map[int]bool{}
	for _, l := range reHex.FindAllStringIndex(text, 16) {
		run := strings.TrimPrefix(text[l[0]:l[1]], "0x")
		if len(run)%2 == 1 {
			run = run[:len(run)-1]
		}
		b, err := hex.DecodeString(run)
		if err != nil {
			continue
		}
		seen[l[0]] = true
		s.blob(c, field, text, "hex", l[0], l[1], b, depth)
	}
	for _, l := range reBase64.FindAllStringIndex(text, 16) {
		if seen[l[0]] {
			continue
		}
		run := text[l[0]:l[1]]
		if !strings.ContainsAny(run, "0123456789+/=") && !mixedCase(run) {
			continue // a long identifier, not an encoding
		}
		b, ok := decodeBase64(run)
		if !ok {
			continue
		}
		s.blob(c, field, text, "base64", l[0], l[1], b, depth)
	}
}

func mixedCase(s string) bool {
	return strings.IndexFunc(s, unicode.IsUpper) >= 0 && strings.IndexFunc(s, unicode.IsLower) >= 0
}

func decodeBase64(run string) ([]byte, bool) {
	trimmed := strings.TrimRight(run, "=")
	encs := []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding}
	for _, e := range encs {
		if b, err := e.DecodeString(trimmed); err == nil {
			return b, true
		}
	}
	// A run that is not a whole encoding may still end in one.
	for cut := 1; cut < 4 && cut < len(trimmed); cut++ {
		for _, e := range encs {
			if b, err := e.DecodeString(trimmed[:len(trimmed)-cut]); err == nil {
				return b, true
			}
		}
	}
	return nil, false
}

func (s *Scanner) blob(c *collector, field, text, enc string, from, to int, b []byte, depth int) {
	if !printable(b) {
		if strings.IndexFunc(text[from:to], unicode.IsDigit) >= 0 || enc == "hex" {
			c.add(Finding{Kind: KindEncoded, Severity: SeverityLow, Field: field, Offset: from,
				Message: fmt.Sprintf("%s run of %d characters (binary when decoded)", enc, to-from), Evidence: evidence(text, from, to)})
		}
		return
	}
	dec := string(b)
	c.add(Finding{Kind: KindEncoded, Severity: SeverityMedium, Field: field, Offset: from,
		Message:  fmt.Sprintf("%s run of %d characters that decodes to text", enc, to-from),
		Evidence: evidence(dec, 0, len(dec))})
	budget := s.o.MaxTextBytes * s.o.MaxDecodeDepth
	if depth >= s.o.MaxDecodeDepth || c.decoded+len(dec) > budget {
		return
	}
	c.decoded += len(dec)
	s.scanText(c, fmt.Sprintf("%s/%s@%d", field, enc, from), dec, depth+1)
}

// printable reports whether b is UTF-8 text of mostly printable characters.
func printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	bad, n := 0, 0
	for _, r := range string(b) {
		n++
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			bad++
		}
	}
	return bad*10 <= n
}

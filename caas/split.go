package caas

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agent-os/agentos"
)

// ChunkOptions bound the chunks of [Split].
type ChunkOptions struct {
	// MaxBytes is the largest chunk, MinChunkBytes to MaxChunkBytes;
	// zero means DefaultChunkBytes.
	MaxBytes int
	// Overlap is how many bytes of a long section a chunk repeats from the
	// one before it (so a sentence cut at a chunk edge is found whole in
	// one of them); 0 to MaxBytes/2. Chunks of different sections never
	// overlap.
	Overlap int
}

func (o ChunkOptions) withDefaults() (ChunkOptions, error) {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultChunkBytes
	}
	if o.MaxBytes < MinChunkBytes || o.MaxBytes > MaxChunkBytes {
		return o, fmt.Errorf("caas: chunk MaxBytes %d outside %d..%d: %w", o.MaxBytes, MinChunkBytes, MaxChunkBytes, agentos.ErrInvalid)
	}
	if o.Overlap < 0 || o.Overlap > o.MaxBytes/2 {
		return o, fmt.Errorf("caas: chunk Overlap %d outside 0..%d: %w", o.Overlap, o.MaxBytes/2, agentos.ErrInvalid)
	}
	return o, nil
}

// piece is a structural span of a document before it is cut to size.
type piece struct {
	start, end int
	tier       Tier
	heading    string
}

// Split cuts a document into chunks by its structure:
//
//   - Markdown: each ATX heading line ("## Setup") is a TierContract chunk; the text of a
//     section is TierBody, cut at paragraphs; footnote definitions,
//     blockquotes and HTML comments are TierNote.
//   - Go (when go/parser accepts the file): the package clause with its doc
//     and each declaration's doc and signature (whole type, const and var
//     declarations) are TierContract; function bodies are TierBody;
//     comments inside bodies and free-standing comments are TierNote. A Go
//     file that does not parse is split as code.
//   - Code: blocks separated by blank lines at brace depth zero are
//     TierBody; runs of comment lines are TierNote.
//   - Text: TierBody, cut at paragraphs, then lines, then sentences.
//
// A section longer than MaxBytes is cut at the last paragraph break, line
// break, sentence end, space or (failing all) rune boundary that fits. The
// chunks are in document order (by Start); each has End-Start <=
// MaxBytes, Text == d.Text[Start:End], starts and ends on a rune boundary
// and on no whitespace, and every non-space character of the text lies in
// some chunk.
//
// The error wraps [agentos.ErrInvalid] for a bad Source, Kind or options;
// [ErrEmpty] for a text of only whitespace; [ErrBinary] for one with a NUL
// byte or more than MaxInvalidUTF8Ratio invalid UTF-8; and
// [agentos.ErrInvalid] for more than MaxChunks chunks.
func Split(d Document, o ChunkOptions) ([]Chunk, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ValidSource(d.Source); err != nil {
		return nil, err
	}
	if err := checkText(d.Text); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Source, err)
	}
	kind := d.Kind
	if kind == "" {
		kind = DetectKind(d.Source)
	}
	var ps []piece
	switch kind {
	case KindText:
		ps = []piece{{0, len(d.Text), TierBody, ""}}
	case KindMarkdown:
		ps = markdownPieces(d.Text)
	case KindGo:
		var ok bool
		if ps, ok = goPieces(d.Text); !ok {
			ps = codePieces(d.Text)
		}
	case KindCode:
		ps = codePieces(d.Text)
	default:
		return nil, fmt.Errorf("caas: %s: unknown kind %q: %w", d.Source, kind, agentos.ErrInvalid)
	}
	ps = fillGaps(d.Text, ps)
	var out []Chunk
	for _, p := range ps {
		for _, w := range cut(d.Text, p.start, p.end, o.MaxBytes, o.Overlap) {
			if len(out) == MaxChunks {
				return nil, fmt.Errorf("caas: %s: more than %d chunks (raise ChunkOptions.MaxBytes): %w", d.Source, MaxChunks, agentos.ErrInvalid)
			}
			out = append(out, Chunk{
				ID:      d.Source + "#" + strconv.Itoa(len(out)),
				Source:  d.Source,
				Start:   w[0],
				End:     w[1],
				Tier:    p.tier,
				Heading: p.heading,
				Text:    d.Text[w[0]:w[1]],
				Time:    d.Time,
			})
		}
	}
	if len(out) == 0 { // unreachable: checkText saw a non-space rune
		return nil, fmt.Errorf("%s: %w", d.Source, ErrEmpty)
	}
	return out, nil
}

// fillGaps sorts pieces, clips overlaps, and adds a body piece for any gap
// that holds more than whitespace, so that no text is lost whatever a
// structural splitter missed.
func fillGaps(text string, ps []piece) []piece {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].start < ps[j].start })
	out := make([]piece, 0, len(ps)+4)
	pos, heading := 0, ""
	add := func(p piece) {
		if p.start < pos {
			p.start = pos
		}
		if p.end > len(text) {
			p.end = len(text)
		}
		if p.start >= p.end {
			return
		}
		out = append(out, p)
		pos = p.end
	}
	for _, p := range ps {
		if p.start > pos && strings.TrimSpace(text[pos:p.start]) != "" {
			add(piece{pos, p.start, TierBody, heading})
		}
		add(p)
		heading = p.heading
	}
	if pos < len(text) && strings.TrimSpace(text[pos:]) != "" {
		add(piece{pos, len(text), TierBody, heading})
	}
	return out
}

// cut returns the windows of text[start:end], each trimmed of whitespace,
// non-empty and at most max bytes, consecutive windows overlapping by up to
// overlap bytes.
func cut(text string, start, end, max, overlap int) [][2]int {
	var out [][2]int
	s := skipSpace(text, start, end)
	for s < end {
		c := end
		if end-s > max {
			c = breakAt(text, s, s+max)
		}
		a, b := s, trimSpaceRight(text, s, c)
		if a < b {
			out = append(out, [2]int{a, b})
		}
		if c >= end {
			break
		}
		next := c
		if overlap > 0 && b-overlap > s {
			next = b - overlap
			for next < c && !utf8.RuneStart(text[next]) {
				next++
			}
			// Start the repeated part at a word.
			if i := strings.IndexFunc(text[next:c], unicode.IsSpace); i >= 0 && next+i < c {
				next += i
			}
		}
		s = skipSpace(text, next, end)
	}
	return out
}

// breakAt returns the best cut in (s, lim]: after the last paragraph
// break, line break, sentence end or space, else the last rune boundary.
func breakAt(text string, s, lim int) int {
	w := text[s:lim]
	// Do not take a break in the first quarter: it would make tiny chunks.
	min := len(w) / 4
	if i := strings.LastIndex(w, "\n\n"); i >= min && i > 0 {
		return s + i + 2
	}
	if i := strings.LastIndexByte(w, '\n'); i >= min && i > 0 {
		return s + i + 1
	}
	for i := len(w) - 2; i >= min && i > 0; i-- {
		if (w[i] == '.' || w[i] == '!' || w[i] == '?' || w[i] == ';') && (w[i+1] == ' ' || w[i+1] == '\t') {
			return s + i + 2
		}
	}
	if i := strings.LastIndexAny(w, " \t"); i >= min && i > 0 {
		return s + i + 1
	}
	c := lim
	for c > s+1 && !utf8.RuneStart(text[c]) {
		c--
	}
	if c <= s { // only continuation bytes: invalid UTF-8, cut anywhere
		c = lim
	}
	return c
}

func skipSpace(text string, i, end int) int {
	for i < end {
		r, n := utf8.DecodeRuneInString(text[i:end])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

func trimSpaceRight(text string, start, end int) int {
	for end > start {
		r, n := utf8.DecodeLastRuneInString(text[start:end])
		if !unicode.IsSpace(r) {
			break
		}
		end -= n
	}
	return end
}

// lines calls f with each line of text (start, end without the newline).
func lines(text string, f func(start, end int)) {
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], '\n')
		if j < 0 {
			f(i, len(text))
			return
		}
		f(i, i+j)
		i += j + 1
	}
}

// markdownPieces splits Markdown by headings, sending footnotes,
// blockquotes and HTML comments to notes. Lines inside fenced code blocks
// are body.
func markdownPieces(text string) []piece {
	var ps []piece
	heading := ""
	fence := ""        // the open fence marker, "" outside a fence
	inComment := false // inside a multi-line <!-- -->
	cur := piece{start: -1}
	flush := func() {
		if cur.start >= 0 {
			ps = append(ps, cur)
		}
		cur = piece{start: -1}
	}
	extend := func(start, end int, tier Tier) {
		if cur.start >= 0 && cur.tier == tier {
			cur.end = end
			return
		}
		flush()
		cur = piece{start, end, tier, heading}
	}
	lines(text, func(start, end int) {
		line := text[start:end]
		t := strings.TrimSpace(line)
		switch {
		case fence != "":
			extend(start, end, TierBody)
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence = ""
			}
		case inComment:
			extend(start, end, TierNote)
			if strings.Contains(line, "-->") {
				inComment = false
			}
		case strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~"):
			fence = t[:3]
			extend(start, end, TierBody)
		case strings.HasPrefix(t, "<!--"):
			extend(start, end, TierNote)
			inComment = !strings.Contains(t[4:], "-->")
		case atxHeading(t) != "":
			flush()
			heading = atxHeading(t)
			ps = append(ps, piece{start, end, TierContract, heading})
		case strings.HasPrefix(t, ">") || strings.HasPrefix(t, "[^"):
			extend(start, end, TierNote)
		case t == "":
			if cur.start >= 0 && cur.tier == TierNote {
				flush() // a note is a run of lines; a blank line ends it
			} else if cur.start >= 0 {
				cur.end = end
			}
		case cur.start >= 0 && cur.tier == TierNote && (line[0] == ' ' || line[0] == '\t'):
			extend(start, end, TierNote) // a footnote's continuation line
		default:
			extend(start, end, TierBody)
		}
	})
	flush()
	return ps
}

// atxHeading returns the text of an ATX heading line ("## Setup"), or "".
func atxHeading(t string) string {
	n := 0
	for n < len(t) && t[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (n < len(t) && t[n] != ' ' && t[n] != '\t') {
		return ""
	}
	h := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(t[n:]), "#"))
	if h == "" {
		return strings.Repeat("#", n)
	}
	return h
}

// goPieces splits Go source with go/parser; ok is false when it does not
// parse.
func goPieces(text string) (ps []piece, ok bool) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", text, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, false
	}
	tf := fset.File(f.Package)
	if tf == nil {
		return nil, false
	}
	off := func(p token.Pos) int { return tf.Offset(p) }
	used := make(map[*ast.CommentGroup]bool)
	// commentsIn returns the comment groups within [start, end): f.Comments
	// is in source order, so a binary search finds the first, and a file
	// of many functions and comments costs n log n, not n².
	commentsIn := func(start, end int) []*ast.CommentGroup {
		i := sort.Search(len(f.Comments), func(i int) bool { return off(f.Comments[i].Pos()) >= start })
		j := i
		for j < len(f.Comments) && off(f.Comments[j].End()) <= end {
			j++
		}
		return f.Comments[i:j]
	}
	pkg := "package " + f.Name.Name
	start := off(f.Package)
	if f.Doc != nil {
		start = off(f.Doc.Pos())
		used[f.Doc] = true
	}
	ps = append(ps, piece{start, off(f.Name.End()), TierContract, pkg})
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			name := funcName(d)
			s := off(d.Pos())
			if d.Doc != nil {
				s = off(d.Doc.Pos())
				used[d.Doc] = true
			}
			if d.Body == nil {
				ps = append(ps, piece{s, off(d.End()), TierContract, name})
				continue
			}
			lb, end := off(d.Body.Lbrace), off(d.End())
			ps = append(ps, piece{s, lb, TierContract, name})
			// The body, with its comments cut out as notes.
			pos := lb
			for _, cg := range commentsIn(lb, end) {
				cs, ce := off(cg.Pos()), off(cg.End())
				used[cg] = true
				if cs > pos {
					ps = append(ps, piece{pos, cs, TierBody, name})
				}
				ps = append(ps, piece{cs, ce, TierNote, name})
				pos = ce
			}
			if pos < end {
				ps = append(ps, piece{pos, end, TierBody, name})
			}
		case *ast.GenDecl:
			s := off(d.Pos())
			if d.Doc != nil {
				s = off(d.Doc.Pos())
				used[d.Doc] = true
			}
			e := off(d.End())
			for _, cg := range commentsIn(s, e) { // field and spec comments stay in
				used[cg] = true
			}
			tier := TierContract
			if d.Tok == token.IMPORT {
				tier = TierBody
			}
			ps = append(ps, piece{s, e, tier, genName(d)})
		}
	}
	for _, cg := range f.Comments {
		if !used[cg] && off(cg.Pos()) >= start {
			ps = append(ps, piece{off(cg.Pos()), off(cg.End()), TierNote, ""})
		} else if !used[cg] { // comments above the package clause (build tags, licence)
			ps = append(ps, piece{off(cg.Pos()), off(cg.End()), TierNote, pkg})
		}
	}
	// A trailing comment on the same line as a declaration may fall inside
	// it; fillGaps clips overlaps, keeping the earlier piece.
	return ps, true
}

func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = "*", s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return "(" + star + id.Name + ")." + d.Name.Name
	}
	return d.Name.Name
}

func genName(d *ast.GenDecl) string {
	if len(d.Specs) == 0 {
		return d.Tok.String()
	}
	switch s := d.Specs[0].(type) {
	case *ast.TypeSpec:
		return "type " + s.Name.Name
	case *ast.ValueSpec:
		if len(s.Names) > 0 {
			return d.Tok.String() + " " + s.Names[0].Name
		}
	}
	return d.Tok.String()
}

// commentLine reports whether a trimmed line of code is a comment.
func commentLine(t string) bool {
	for _, p := range []string{"//", "#", "--", ";", "/*", "*", "<!--", `"""`, "'''"} {
		if strings.HasPrefix(t, p) {
			return p != "#" || !strings.HasPrefix(t, "#include") && !strings.HasPrefix(t, "#define") && !strings.HasPrefix(t, "#[")
		}
	}
	return false
}

// codePieces splits source code into blocks separated by blank lines at
// brace depth zero, with runs of comment lines as notes. The heading of a
// block is its first line (cut to 120 bytes).
func codePieces(text string) []piece {
	var ps []piece
	depth := 0
	cur := piece{start: -1}
	flush := func() {
		if cur.start >= 0 {
			ps = append(ps, cur)
		}
		cur = piece{start: -1}
	}
	heading := ""
	lines(text, func(start, end int) {
		t := strings.TrimSpace(text[start:end])
		switch {
		case t == "":
			if depth <= 0 {
				flush()
			} else if cur.start >= 0 {
				cur.end = end
			}
			return
		case commentLine(t):
			if cur.start >= 0 && cur.tier != TierNote {
				flush()
			}
			if cur.start < 0 {
				cur = piece{start, end, TierNote, heading}
			}
			cur.end = end
			return
		}
		if cur.start >= 0 && cur.tier != TierBody {
			flush()
		}
		if cur.start < 0 {
			if depth <= 0 {
				heading = clip(t, 120)
			}
			cur = piece{start, end, TierBody, heading}
		}
		cur.end = end
		depth += strings.Count(t, "{") - strings.Count(t, "}")
		if depth < 0 {
			depth = 0
		}
	})
	flush()
	return ps
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

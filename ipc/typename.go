package ipc

import (
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TypeName returns the payload type name of T, the name policies see as
// action.payloadType when a value of type T crosses a [PolicyCheck]:
//
//   - a named type is qualified by its package: the last element of the
//     package's import path, a dot and the type's name, e.g.
//     "research.Result" for type Result in package example.com/x/research.
//     A major-version element ("/v2", "/v3"…) is skipped, so a type in
//     example.com/x/research/v2 is also "research.Result". Types of package
//     main are "main.T"; of an external test package "research_test.T".
//   - predeclared types keep their own name: "int", "string", "error".
//     byte and rune are aliases, so they read "uint8" and "int32".
//   - the empty interface (any) is "any". The name is that of the static
//     type T, never that of the dynamic value inside an interface.
//   - pointers, slices, arrays, maps and channels are spelled as in Go
//     source around the element names: "*research.Result",
//     "[]research.Result", "[4]int", "map[string]research.Result",
//     "chan int", "<-chan research.Result".
//   - an instance of a generic type has its type arguments qualified the
//     same way, separated by commas without spaces:
//     "research.Pair[research.Result,int]".
//   - struct, function and interface literals (unnamed) are spelled as
//     reflect spells them, with any import path inside reduced as above:
//     "struct { A int }", "func(int) error".
//
// The result depends only on T, so TypeName may be called once and kept.
func TypeName[T any]() string {
	return typeName(reflect.TypeFor[T]())
}

func typeName(t reflect.Type) string {
	if name := t.Name(); name != "" {
		name = qualifyNames(name) // type arguments of a generic instance
		if pkg := t.PkgPath(); pkg != "" {
			return pkgName(pkg) + "." + name
		}
		return name
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + typeName(t.Elem())
	case reflect.Slice:
		return "[]" + typeName(t.Elem())
	case reflect.Array:
		return "[" + strconv.Itoa(t.Len()) + "]" + typeName(t.Elem())
	case reflect.Map:
		return "map[" + typeName(t.Key()) + "]" + typeName(t.Elem())
	case reflect.Chan:
		elem := typeName(t.Elem())
		switch t.ChanDir() {
		case reflect.RecvDir:
			return "<-chan " + elem
		case reflect.SendDir:
			return "chan<- " + elem
		default:
			if t.Elem().Kind() == reflect.Chan && t.Elem().Name() == "" && t.Elem().ChanDir() == reflect.RecvDir {
				return "chan (" + elem + ")"
			}
			return "chan " + elem
		}
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "any"
		}
	}
	return qualifyNames(t.String())
}

// pkgName returns the qualifier for an import path: its last element, or
// the one before when the last is a major version ("v2", "v3"…).
func pkgName(path string) string {
	i := strings.LastIndexByte(path, '/')
	last := path[i+1:]
	if i > 0 && isMajorVersion(last) {
		rest := path[:i]
		return rest[strings.LastIndexByte(rest, '/')+1:]
	}
	return last
}

func isMajorVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != "v1"
}

// qualifyNames rewrites every import-path-qualified name in a type's spelling
// ("example.com/x/research.Result") to its short form ("research.Result").
// A name is a run of letters, digits and "_./-~"; one containing a slash is
// split at the last dot after its last slash into path and type name.
func qualifyNames(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			if !isNameRune(r) {
				break
			}
			n += size
		}
		if n == 0 {
			_, size := utf8.DecodeRuneInString(s)
			b.WriteString(s[:size])
			s = s[size:]
			continue
		}
		b.WriteString(shortName(s[:n]))
		s = s[n:]
	}
	return b.String()
}

func isNameRune(r rune) bool {
	return r == '_' || r == '.' || r == '/' || r == '-' || r == '~' ||
		(r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)))
}

// shortName turns "path/to/pkg.Name" into "pkg.Name"; tokens without a
// slash, or without a dot after the last slash, are returned unchanged.
func shortName(tok string) string {
	slash := strings.LastIndexByte(tok, '/')
	if slash < 0 {
		return tok
	}
	dot := strings.LastIndexByte(tok[slash:], '.')
	if dot < 0 {
		return tok
	}
	dot += slash
	return pkgName(tok[:dot]) + tok[dot:]
}

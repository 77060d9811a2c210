package policy

import (
	"path"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// helperFunctions declares the functions agent policies use beyond CEL's
// standard library, with cost models linear in the length of their input.
func helperFunctions() []cel.EnvOption {
	strBool := func(name, id string, f func(string) bool) cel.EnvOption {
		return cel.Function(name, cel.Overload(id, []*cel.Type{cel.StringType}, cel.BoolType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				s, ok := v.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return types.Bool(f(string(s)))
			})))
	}
	scan := func(id string, n int) cost.OverloadModel {
		terms := []cost.QuantityExpr{cost.Const(cost.CallCost)}
		for i := range n {
			terms = append(terms, cost.StringScan(cost.Length(cost.Arg(i))))
		}
		return cost.Overload(id, cost.EvalCost(cost.Sum(terms...)))
	}
	return []cel.EnvOption{
		strBool("sql.destructive", "sql_destructive_string", SQLDestructive),
		strBool("sql.readonly", "sql_readonly_string", SQLReadOnly),
		strBool("pii.card", "pii_card_string", ContainsCard),
		strBool("pii.ssn", "pii_ssn_string", ContainsSSN),
		cel.Function("path.under", cel.Overload("path_under_string_string",
			[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				p, ok1 := a.(types.String)
				prefix, ok2 := b.(types.String)
				if !ok1 || !ok2 {
					return types.NoSuchOverloadErr()
				}
				return types.Bool(PathUnder(string(p), string(prefix)))
			}))),
		cel.CostModel(
			scan("sql_destructive_string", 1),
			scan("sql_readonly_string", 1),
			scan("pii_card_string", 1),
			scan("pii_ssn_string", 1),
			scan("path_under_string_string", 2),
		),
	}
}

// PathUnder reports whether the slash-separated path p is prefix or lies
// below it, after both are cleaned (so "/a/b/../c" is "/a/c"). The test is
// on whole path elements: "/policyX" is not under "/policy". A path with a
// NUL byte is under nothing, and a relative path is never under an
// absolute prefix (nor the reverse). It is the CEL function path.under.
func PathUnder(p, prefix string) bool {
	if p == "" || prefix == "" || strings.IndexByte(p, 0) >= 0 || strings.IndexByte(prefix, 0) >= 0 {
		return false
	}
	if (p[0] == '/') != (prefix[0] == '/') {
		return false
	}
	p, prefix = path.Clean(p), path.Clean(prefix)
	if prefix == "/" || prefix == "." && !strings.HasPrefix(p, "../") && p != ".." {
		return true
	}
	if p == prefix {
		return true
	}
	return strings.HasPrefix(p, prefix) && p[len(prefix)] == '/'
}

// ContainsCard reports whether s contains a payment card number: 13 to 19
// digits, optionally in groups separated by single spaces or dashes, that
// pass the Luhn check. Digit runs longer than 19 digits without separators
// are not card numbers. It is the CEL function pii.card.
func ContainsCard(s string) bool {
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// A run: digit groups joined by single separators.
		var groups [][2]int // [start, end) of each group in s
		j := i
		for {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			groups = append(groups, [2]int{j, k})
			if k+1 < len(s) && (s[k] == ' ' || s[k] == '-') && isDigit(s[k+1]) && len(groups) < 64 {
				j = k + 1
				continue
			}
			j = k
			break
		}
		// Any window of consecutive whole groups may be the number.
		for a := range groups {
			n := 0
			for b := a; b < len(groups); b++ {
				n += groups[b][1] - groups[b][0]
				if n > 19 {
					break
				}
				if n >= 13 && luhn(s, groups[a:b+1]) {
					return true
				}
			}
		}
		i = j
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func luhn(s string, groups [][2]int) bool {
	var digits [19]byte
	n := 0
	for _, g := range groups {
		for k := g[0]; k < g[1]; k++ {
			digits[n] = s[k] - '0'
			n++
		}
	}
	sum := 0
	for k := 0; k < n; k++ {
		d := int(digits[n-1-k])
		if k%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// ContainsSSN reports whether s contains a US social security number
// written as ddd-dd-dddd or ddd dd dddd, not adjacent to other digits, and
// valid (area not 000, 666 or 9xx; group not 00; serial not 0000). Nine
// digits without separators are not matched: too many other numbers look
// like that. It is the CEL function pii.ssn.
func ContainsSSN(s string) bool {
	for i := 0; i+11 <= len(s); i++ {
		if i > 0 && isDigit(s[i-1]) {
			continue
		}
		c := s[i : i+11]
		sep := c[3]
		if sep != '-' && sep != ' ' || c[6] != sep {
			continue
		}
		ok := true
		for _, k := range []int{0, 1, 2, 4, 5, 7, 8, 9, 10} {
			if !isDigit(c[k]) {
				ok = false
				break
			}
		}
		if !ok || i+11 < len(s) && isDigit(s[i+11]) {
			continue
		}
		area, group, serial := c[0:3], c[4:6], c[7:11]
		if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
			continue
		}
		return true
	}
	return false
}

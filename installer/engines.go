package installer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/hashicorp/go-version"
)

// NodeRange is an npm semver range (the engines.node field of a
// package.json) translated to go-version constraints: a version satisfies
// it when it satisfies any one of its constraint sets.
type NodeRange struct {
	raw  string
	sets []rangeSet
}

// rangeSet is one ||-separated part of a range: comparators that must all
// hold, kept both as go-version constraints and in a form whose bounds can
// be inspected.
type rangeSet struct {
	cmps []comparator
	cons version.Constraints
}

type comparator struct {
	op string // ">=", ">", "<", "<=", "="
	v  *version.Version
}

// String returns the range as written.
func (r *NodeRange) String() string { return r.raw }

// Constraints returns the go-version constraint sets; a version satisfies
// the range when any set's Check accepts it.
func (r *NodeRange) Constraints() []version.Constraints {
	out := make([]version.Constraints, len(r.sets))
	for i, s := range r.sets {
		out[i] = s.cons
	}
	return out
}

// Check reports whether v satisfies the range. A prerelease v (a Node.js
// release candidate or nightly) is compared by plain version order, as npm
// does when it checks engines (includePrerelease); go-version's own rules
// would reject it against every range that names no prerelease.
func (r *NodeRange) Check(v *version.Version) bool {
	for _, s := range r.sets {
		if v.Prerelease() == "" {
			if s.cons.Check(v) {
				return true
			}
			continue
		}
		ok := true
		for _, c := range s.cmps {
			if !c.holds(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c comparator) holds(v *version.Version) bool {
	n := v.Compare(c.v)
	switch c.op {
	case ">=":
		return n >= 0
	case ">":
		return n > 0
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	default:
		return n == 0
	}
}

var (
	hyphenRe     = regexp.MustCompile(`^(\S+)\s+-\s+(\S+)$`)
	opSpaceRe    = regexp.MustCompile(`(<=|>=|~>|<|>|=|~|\^)\s+`)
	comparatorRe = regexp.MustCompile(`^(<=|>=|~>|<|>|=|~|\^)?=?[vV]?(.*)$`)
	partialRe    = regexp.MustCompile(`^(\d+|[xX*])(?:\.(\d+|[xX*])(?:\.(\d+|[xX*])(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?$`)
)

// ParseNodeRange parses an npm semver range as found in engines.node:
// "^22.11.0", "~20.1", ">=18", ">=18.0.0 <23", "22.x", "20.x || 22.x", "*",
// "" (any), "22.11.0", "18 - 22".
func ParseNodeRange(s string) (*NodeRange, error) {
	r := &NodeRange{raw: s}
	for _, part := range strings.Split(s, "||") {
		cmps, err := parseRangeSet(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("invalid engines.node range %q: %v", s, err)
		}
		set := rangeSet{cmps: cmps}
		for _, c := range cmps {
			cs, err := version.NewConstraint(c.op + " " + c.v.String())
			if err != nil {
				return nil, fmt.Errorf("invalid engines.node range %q: %v", s, err)
			}
			set.cons = append(set.cons, cs...)
		}
		r.sets = append(r.sets, set)
	}
	return r, nil
}

// partial is a version with possibly missing or wildcard parts: n is the
// number of leading numeric parts (0 for "*", 1 for "22", 3 for "22.11.0").
type partial struct {
	n       int
	M, m, p int64
	pre     string
}

func parsePartial(s string) (partial, error) {
	s = strings.TrimLeft(s, "=vV")
	sub := partialRe.FindStringSubmatch(s)
	if sub == nil {
		return partial{}, fmt.Errorf("%q is not a version", s)
	}
	var pt partial
	nums := []*int64{&pt.M, &pt.m, &pt.p}
	for i, f := range sub[1:4] {
		if f == "" || f == "x" || f == "X" || f == "*" {
			break
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n > 1<<31 {
			return partial{}, fmt.Errorf("%q: version number out of range", s)
		}
		*nums[i] = n
		pt.n = i + 1
	}
	if pt.n == 3 {
		pt.pre = sub[4]
	}
	return pt, nil
}

func mkver(M, m, p int64, pre string) *version.Version {
	s := fmt.Sprintf("%d.%d.%d", M, m, p)
	if pre != "" {
		s += "-" + pre
	}
	return version.Must(version.NewVersion(s))
}

// lower is the smallest version a partial can stand for. A partial lower
// bound gets the "-0" prerelease, as npm gives it, so that "22.x" also
// admits 22.0.0 release candidates; it changes nothing for releases.
func (pt partial) lower() *version.Version {
	if pt.n < 3 {
		return mkver(pt.M, pt.m, pt.p, "0")
	}
	return mkver(pt.M, pt.m, pt.p, pt.pre)
}

// next is the first version above everything a partial (n = 1 or 2) stands
// for: "22" -> 23.0.0-0, "22.11" -> 22.12.0-0.
func (pt partial) next() *version.Version {
	if pt.n == 1 {
		return mkver(pt.M+1, 0, 0, "0")
	}
	return mkver(pt.M, pt.m+1, 0, "0")
}

var (
	anyVersion = comparator{">=", mkver(0, 0, 0, "0")}
	noVersion  = comparator{"<", mkver(0, 0, 0, "0")}
)

// parseRangeSet translates one ||-part into comparators.
func parseRangeSet(s string) ([]comparator, error) {
	if s == "" {
		return []comparator{anyVersion}, nil
	}
	if m := hyphenRe.FindStringSubmatch(s); m != nil {
		from, err := parsePartial(m[1])
		if err != nil {
			return nil, err
		}
		to, err := parsePartial(m[2])
		if err != nil {
			return nil, err
		}
		var out []comparator
		if from.n == 0 {
			out = append(out, anyVersion)
		} else {
			out = append(out, comparator{">=", from.lower()})
		}
		switch to.n {
		case 0:
		case 3:
			out = append(out, comparator{"<=", to.lower()})
		default:
			out = append(out, comparator{"<", to.next()})
		}
		return out, nil
	}
	var out []comparator
	for _, tok := range strings.Fields(opSpaceRe.ReplaceAllString(s, "$1")) {
		cs, err := parseComparator(tok)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func parseComparator(tok string) ([]comparator, error) {
	sub := comparatorRe.FindStringSubmatch(tok)
	op, rest := sub[1], sub[2]
	if rest == "" {
		return nil, fmt.Errorf("%q has no version", tok)
	}
	pt, err := parsePartial(rest)
	if err != nil {
		return nil, err
	}
	if pt.n == 0 {
		if op == "<" || op == ">" {
			return []comparator{noVersion}, nil
		}
		return []comparator{anyVersion}, nil
	}
	switch op {
	case "", "=":
		if pt.n == 3 {
			return []comparator{{"=", pt.lower()}}, nil
		}
		return []comparator{{">=", pt.lower()}, {"<", pt.next()}}, nil
	case ">=":
		return []comparator{{">=", pt.lower()}}, nil
	case ">":
		if pt.n == 3 {
			return []comparator{{">", pt.lower()}}, nil
		}
		return []comparator{{">=", pt.next()}}, nil
	case "<":
		return []comparator{{"<", pt.lower()}}, nil
	case "<=":
		if pt.n == 3 {
			return []comparator{{"<=", pt.lower()}}, nil
		}
		return []comparator{{"<", pt.next()}}, nil
	case "~", "~>":
		upper := partial{n: 2, M: pt.M, m: pt.m}
		if pt.n == 1 {
			upper.n = 1
		}
		return []comparator{{">=", pt.lower()}, {"<", upper.next()}}, nil
	case "^":
		var upper *version.Version
		switch {
		case pt.M > 0 || pt.n == 1:
			upper = mkver(pt.M+1, 0, 0, "0")
		case pt.m > 0 || pt.n == 2:
			upper = mkver(0, pt.m+1, 0, "0")
		default:
			upper = mkver(0, 0, pt.p+1, "0")
		}
		return []comparator{{">=", pt.lower()}, {"<", upper}}, nil
	}
	return nil, fmt.Errorf("%q: unknown operator", tok)
}

// NodeEngineError says that the installed Node.js does not satisfy a
// release's engines.node, and what to install instead.
type NodeEngineError struct {
	Node    string // as printed by node --version, e.g. "v20.20.2"
	Range   string // engines.node, e.g. "^22.11.0"
	Install string // what to install, e.g. "Node.js 22"
}

func (e *NodeEngineError) Error() string {
	return fmt.Sprintf("node %s does not satisfy engines.node %q required by this release; install %s (e.g. from your distribution or nodejs.org) and run again",
		e.Node, e.Range, e.Install)
}

// CheckNodeEngine checks nodeVersion (as printed by `node --version`,
// "v20.20.2") against engines (the engines.node range of a package.json; ""
// accepts any). When it is not satisfied the error is a *NodeEngineError.
func CheckNodeEngine(nodeVersion, engines string) error {
	engines = strings.TrimSpace(engines)
	if engines == "" {
		return nil
	}
	nodeVersion = strings.TrimSpace(nodeVersion)
	v, err := version.NewVersion(nodeVersion)
	if err != nil {
		return fmt.Errorf("cannot read the node version %q: %w", nodeVersion, err)
	}
	r, err := ParseNodeRange(engines)
	if err != nil {
		return err
	}
	if r.Check(v) {
		return nil
	}
	if !strings.HasPrefix(nodeVersion, "v") {
		nodeVersion = "v" + nodeVersion
	}
	return &NodeEngineError{Node: nodeVersion, Range: engines, Install: r.suggest(v)}
}

// suggest names the Node.js to install for a range that v does not satisfy:
// the newest major line a bounded range allows ("Node.js 22"), or the
// lower bound of an open one ("Node.js 18 or newer").
func (r *NodeRange) suggest(v *version.Version) string {
	const generic = "a Node.js version that satisfies it"
	best, bestHigh := -1, int64(-1)
	unbounded := false
	for i, s := range r.sets {
		high, open := s.highestMajor()
		if !open && high < 0 {
			continue // matches nothing
		}
		switch {
		case open && !unbounded:
			best, unbounded = i, true
		case open && unbounded:
			if s.lowest().Compare(r.sets[best].lowest()) < 0 {
				best = i
			}
		case !unbounded && high > bestHigh:
			best, bestHigh = i, high
		}
	}
	if best < 0 {
		return generic
	}
	if unbounded {
		low := r.sets[best].lowest()
		if low.Segments64()[0] == 0 {
			return generic
		}
		return "Node.js " + shortVersion(low) + " or newer"
	}
	if v.Segments64()[0] == bestHigh {
		return fmt.Sprintf("a Node.js %d release that satisfies it", bestHigh)
	}
	return fmt.Sprintf("Node.js %d", bestHigh)
}

// lowest returns the set's greatest lower bound (0.0.0 when it has none).
func (s rangeSet) lowest() *version.Version {
	low := mkver(0, 0, 0, "")
	for _, c := range s.cmps {
		if (c.op == ">=" || c.op == ">" || c.op == "=") && c.v.Compare(low) > 0 {
			low = c.v.Core()
		}
	}
	return low
}

// highestMajor returns the highest major line the set admits, or open=true
// when it has no upper bound; -1 when its upper bound admits nothing.
func (s rangeSet) highestMajor() (major int64, open bool) {
	major, open = -1, true
	for _, c := range s.cmps {
		var h int64
		seg := c.v.Segments64()
		switch c.op {
		case "<":
			h = seg[0]
			if seg[1] == 0 && seg[2] == 0 && (c.v.Prerelease() == "" || c.v.Prerelease() == "0") {
				h--
			}
		case "<=", "=":
			h = seg[0]
		default:
			continue
		}
		if open || h < major {
			major, open = h, false
		}
	}
	return major, open
}

func shortVersion(v *version.Version) string {
	seg := v.Segments64()
	switch {
	case seg[1] == 0 && seg[2] == 0:
		return strconv.FormatInt(seg[0], 10)
	case seg[2] == 0:
		return fmt.Sprintf("%d.%d", seg[0], seg[1])
	}
	return v.Core().String()
}

// ReadEnginesNode returns engines.node of the package.json at
// packageJSONPath, or "" when it has none.
func ReadEnginesNode(packageJSONPath string) (string, error) {
	pkg, err := connector.ReadPackage(packageJSONPath)
	if err != nil {
		return "", err
	}
	return pkg.EnginesNode, nil
}

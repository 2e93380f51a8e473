package postinstall

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Status is a check's outcome.
type Status string

// Statuses, as SPEC names them.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one check's report. Diagnosis says what was seen, Remediation
// the fix (the adldapctl command where adldapctl can fix it). Detail holds
// facts (already free of secrets: the engine scrubs them again).
type Result struct {
	ID          string         `json:"id"`
	Status      Status         `json:"status"`
	Title       string         `json:"title"`
	Diagnosis   string         `json:"diagnosis"`
	Remediation string         `json:"remediation"`
	Detail      map[string]any `json:"detail"`
	DurationMS  int64          `json:"duration_ms"`
}

// Outcome is what a check's Run returns: everything of a Result but what
// the engine fills in (id, title, duration).
type Outcome struct {
	Status      Status
	Diagnosis   string
	Remediation string
	Detail      map[string]any
}

// Passed, Warned, Failed and Skipped build outcomes.
func Passed(diag string) Outcome { return Outcome{Status: Pass, Diagnosis: diag} }

// Warned is a warning with its fix.
func Warned(diag, fix string) Outcome {
	return Outcome{Status: Warn, Diagnosis: diag, Remediation: fix}
}

// Failed is a failure with its fix.
func Failed(diag, fix string) Outcome {
	return Outcome{Status: Fail, Diagnosis: diag, Remediation: fix}
}

// Skipped is a check that did not apply.
func Skipped(why string) Outcome { return Outcome{Status: Skip, Diagnosis: why} }

// With adds detail to an outcome.
func (o Outcome) With(k string, v any) Outcome {
	if o.Detail == nil {
		o.Detail = map[string]any{}
	}
	o.Detail[k] = v
	return o
}

// Check is one entry of the catalogue.
type Check interface {
	ID() string
	Title() string
	// Deps are the ids of checks that must pass (or warn) first; when one
	// fails or is skipped this check is skipped, naming it.
	Deps() []string
	Run(ctx context.Context, env *Env) Outcome
}

// Summary counts results by status.
type Summary struct {
	Pass int `json:"pass"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// Report is a verify run: SPEC's JSON shape.
type Report struct {
	Checks  []Result `json:"checks"`
	Summary Summary  `json:"summary"`
}

// Failed reports whether any check failed (exit 1).
func (r *Report) Failed() bool { return r.Summary.Fail > 0 }

// Options select and bound a run.
type Options struct {
	Only    []string      // ids to run ("" all); their dependencies run too, unreported
	Skip    []string      // ids not to run
	Timeout time.Duration // per check (default 10s)
}

// ErrUnknownCheck is wrapped when --only or --skip names no check.
var ErrUnknownCheck = errors.New("unknown check id")

// Run runs checks concurrently, each under its own timeout, a check
// waiting only for its dependencies: the total is close to the slowest
// chain, not the sum. Results come back in catalogue order.
func Run(ctx context.Context, env *Env, checks []Check, o Options) (*Report, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	byID := map[string]Check{}
	for _, c := range checks {
		byID[c.ID()] = c
	}
	for _, id := range append(append([]string{}, o.Only...), o.Skip...) {
		if _, ok := byID[id]; !ok {
			return nil, fmt.Errorf("%w %q: see adldapctl verify --help for the list", ErrUnknownCheck, id)
		}
	}
	want := map[string]bool{}
	for _, c := range checks {
		want[c.ID()] = len(o.Only) == 0
	}
	for _, id := range o.Only {
		want[id] = true
	}
	skipped := map[string]bool{}
	for _, id := range o.Skip {
		skipped[id] = true
		want[id] = false
	}
	// Dependencies of wanted checks run too (their results decide skips).
	needed := map[string]bool{}
	var need func(id string)
	need = func(id string) {
		if needed[id] || byID[id] == nil {
			return
		}
		needed[id] = true
		for _, d := range byID[id].Deps() {
			need(d)
		}
	}
	for id, w := range want {
		if w {
			need(id)
		}
	}

	results := map[string]*Result{}
	done := map[string]chan struct{}{}
	for id := range needed {
		done[id] = make(chan struct{})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for id := range needed {
		c := byID[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[id])
			res := &Result{ID: id, Title: c.Title()}
			defer func() {
				env.scrub(res)
				mu.Lock()
				results[id] = res
				mu.Unlock()
			}()
			if skipped[id] {
				res.Status, res.Diagnosis = Skip, "skipped by --skip"
				return
			}
			for _, d := range c.Deps() {
				ch, ok := done[d]
				if !ok {
					continue
				}
				<-ch
				mu.Lock()
				dr := results[d]
				mu.Unlock()
				if dr != nil && (dr.Status == Fail || dr.Status == Skip) {
					res.Status = Skip
					res.Diagnosis = fmt.Sprintf("not run: %s did not pass (%s)", d, dr.Status)
					return
				}
			}
			start := time.Now()
			cctx, cancel := context.WithTimeout(ctx, o.Timeout)
			defer cancel()
			out := runBounded(cctx, env, c)
			res.DurationMS = time.Since(start).Milliseconds()
			res.Status, res.Diagnosis, res.Remediation, res.Detail = out.Status, out.Diagnosis, out.Remediation, out.Detail
			if res.Status == "" {
				res.Status = Pass
			}
		}()
	}
	wg.Wait()

	rep := &Report{}
	for _, c := range checks {
		if !want[c.ID()] && !(skipped[c.ID()] && len(o.Only) == 0) {
			continue
		}
		r := results[c.ID()]
		if r == nil {
			continue
		}
		if r.Detail == nil {
			r.Detail = map[string]any{}
		}
		rep.Checks = append(rep.Checks, *r)
		switch r.Status {
		case Pass:
			rep.Summary.Pass++
		case Warn:
			rep.Summary.Warn++
		case Fail:
			rep.Summary.Fail++
		default:
			rep.Summary.Skip++
		}
	}
	return rep, nil
}

// runBounded runs c and returns a failure naming the timeout if c does not
// answer in time, even when c ignores its context.
func runBounded(ctx context.Context, env *Env, c Check) Outcome {
	ch := make(chan Outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- Failed(fmt.Sprintf("the check crashed: %v", r), "report this as a bug in adldapctl")
			}
		}()
		ch <- c.Run(ctx, env)
	}()
	select {
	case out := <-ch:
		return out
	case <-ctx.Done():
		return Failed(fmt.Sprintf("no answer within the check's timeout (%v)", ctx.Err()),
			"see the check's own diagnosis on a rerun with a longer --timeout; a peer that accepts and never answers is often a firewall or a proxy in the way")
	}
}

// IDs returns the ids of checks, sorted, for help texts.
func IDs(checks []Check) []string {
	var ids []string
	for _, c := range checks {
		ids = append(ids, c.ID())
	}
	sort.Strings(ids)
	return ids
}

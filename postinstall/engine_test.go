package postinstall

import (
	"context"
	"errors"
	"testing"
	"time"
)

type fakeCheck struct {
	id   string
	deps []string
	run  func(ctx context.Context) Outcome
}

func (f fakeCheck) ID() string                              { return f.id }
func (f fakeCheck) Title() string                           { return "fake " + f.id }
func (f fakeCheck) Deps() []string                          { return f.deps }
func (f fakeCheck) Run(ctx context.Context, _ *Env) Outcome { return f.run(ctx) }

func TestRunConcurrentTimeoutsAndSkips(t *testing.T) {
	slow := func(ctx context.Context) Outcome { time.Sleep(300 * time.Millisecond); return Passed("slow ok") }
	hang := func(ctx context.Context) Outcome { select {} }
	checks := []Check{
		fakeCheck{id: "a", run: slow},
		fakeCheck{id: "b", run: slow},
		fakeCheck{id: "c", run: slow},
		fakeCheck{id: "reach", run: func(context.Context) Outcome { return Failed("refused", "open the port") }},
		fakeCheck{id: "bind", deps: []string{"reach"}, run: func(context.Context) Outcome { return Passed("never") }},
		fakeCheck{id: "hang", run: hang},
	}
	start := time.Now()
	rep, err := Run(context.Background(), &Env{}, checks, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %v: checks did not run concurrently or the timeout did not hold", d)
	}
	got := map[string]Status{}
	for _, r := range rep.Checks {
		got[r.ID] = r.Status
	}
	want := map[string]Status{"a": Pass, "b": Pass, "c": Pass, "reach": Fail, "bind": Skip, "hang": Fail}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("%s: %s, want %s", id, got[id], st)
		}
	}
	if rep.Summary != (Summary{Pass: 3, Fail: 2, Skip: 1}) || !rep.Failed() {
		t.Errorf("summary %+v", rep.Summary)
	}
	if _, err := Run(context.Background(), &Env{}, checks, Options{Only: []string{"nope"}}); !errors.Is(err, ErrUnknownCheck) {
		t.Errorf("--only nope: %v", err)
	}
	rep, _ = Run(context.Background(), &Env{}, checks, Options{Only: []string{"bind"}})
	if len(rep.Checks) != 1 || rep.Checks[0].Status != Skip {
		t.Errorf("--only bind: %+v (its dependency runs, unreported, and decides the skip)", rep.Checks)
	}
}

package postinstall

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"
)

// The connector's clock-skew guard exits above skewFail; skewWarn leaves
// room for drift between its 5 s polls.
const (
	skewFail = 5 * time.Second
	skewWarn = 2 * time.Second
)

// clockSample is one offset estimate: remote minus local, and how far off
// it may be.
type clockSample struct {
	Source      string
	Offset      time.Duration
	Uncertainty time.Duration
	RTT         time.Duration
}

// offsetAt estimates remote-local for a timestamp the server took between
// t0 (request sent) and t1 (answer received): it is assumed at their
// midpoint, so the error is at most rtt/2 (plus the stamp's resolution).
func offsetAt(remote, t0, t1 time.Time, resolution time.Duration) (offset, uncertainty time.Duration) {
	rtt := t1.Sub(t0)
	mid := t0.Add(rtt / 2)
	return remote.Add(resolution / 2).Sub(mid), rtt/2 + resolution/2
}

// clockSkew compares the local clock with the tenant's /test clock (what
// the connector's guard polls), its HTTP Date and SNTP.
type clockSkew struct{}

func (clockSkew) ID() string     { return "clock.skew" }
func (clockSkew) Title() string  { return "Clock in step with the tenant" }
func (clockSkew) Deps() []string { return nil }
func (clockSkew) Run(ctx context.Context, env *Env) Outcome {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	var samples []clockSample
	var tenantErr *Outcome
	if s, bad := setup(env); bad != nil {
		tenantErr = bad
	} else if smp, bad := tenantClock(ctx, env, s); bad != nil {
		tenantErr = bad
	} else {
		samples = append(samples, smp...)
	}
	var ntpErr error
	if env.NTPServer != "" {
		smp, err := sntpSample(ctx, env.NTPServer)
		if err != nil {
			ntpErr = err
		} else {
			samples = append(samples, smp)
		}
	}
	if len(samples) == 0 {
		o := *tenantErr
		o.Diagnosis = "cannot measure the clock: " + o.Diagnosis
		if ntpErr != nil {
			o = o.With("sntp_error", ntpErr.Error())
		}
		return o
	}
	// The connector compares with the tenant's clock: that sample decides
	// when there is one; SNTP otherwise.
	best := samples[0]
	o := Outcome{}
	for _, smp := range samples {
		o = o.With(smp.Source+"_offset_ms", smp.Offset.Milliseconds()).With(smp.Source+"_uncertainty_ms", smp.Uncertainty.Milliseconds())
	}
	if tenantErr != nil {
		o = o.With("tenant_error", tenantErr.Diagnosis)
	}
	if ntpErr != nil {
		o = o.With("sntp_error", ntpErr.Error())
	}
	abs := time.Duration(math.Abs(float64(best.Offset)))
	what := fmt.Sprintf("the local clock is %s %s (%s, ± %v)", abs.Round(time.Millisecond), aheadBehind(best.Offset), best.Source, best.Uncertainty.Round(time.Millisecond))
	for _, smp := range samples[1:] {
		if smp.Source == "sntp" {
			what += fmt.Sprintf("; SNTP to %s: %s %s (± %v)", env.NTPServer, time.Duration(math.Abs(float64(smp.Offset))).Round(time.Millisecond), aheadBehind(smp.Offset), smp.Uncertainty.Round(time.Millisecond))
		}
	}
	fix := "synchronise this server's clock (NTP: chrony or systemd-timesyncd on Linux, w32tm /resync on Windows; a domain member should follow its DC)"
	switch {
	case abs > skewFail:
		o.Status, o.Diagnosis, o.Remediation = Fail, what+": above the 5 s at which the connector's clock-skew guard exits", fix
	case abs > skewWarn:
		o.Status, o.Diagnosis, o.Remediation = Warn, what+": within the connector's 5 s limit but drifting towards it", fix
	default:
		o.Status, o.Diagnosis = Pass, what
	}
	return o.With("offset_ms", best.Offset.Milliseconds()).With("uncertainty_ms", best.Uncertainty.Milliseconds()).With("rtt_ms", best.RTT.Milliseconds())
}

func aheadBehind(remoteMinusLocal time.Duration) string {
	if remoteMinusLocal > 0 {
		return "behind"
	}
	return "ahead"
}

// tenantClock samples GET /test on one connection (after the handshake, so
// the round trip is one request's): the best sample is the one with the
// smallest round trip. It returns the /test clock sample and the Date one.
func tenantClock(ctx context.Context, env *Env, s *tenantSetup) ([]clockSample, *Outcome) {
	u := *s.tenant
	u.Path = "/test"
	sess, bad := s.connect(ctx, env, "GET "+u.String(), &u)
	if bad != nil {
		return nil, bad
	}
	defer sess.Close()
	var clock, date *clockSample
	for i := 0; i < 3; i++ {
		resp, t0, t1, pe := sess.roundTrip(ctx, env, newGET(ctx, &u))
		if pe != nil {
			if clock != nil || date != nil {
				break // keep what was measured
			}
			o := s.phaseFailure("GET "+u.String(), pe)
			return nil, &o
		}
		body, _ := readBody(resp.Body, 1<<16)
		_ = resp.Body.Close() // read already
		rtt := t1.Sub(t0)
		var doc struct {
			Clock *float64 `json:"clock"`
		}
		if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &doc) == nil && doc.Clock != nil {
			remote := time.UnixMilli(int64(*doc.Clock))
			off, unc := offsetAt(remote, t0, t1, time.Millisecond)
			if clock == nil || rtt < clock.RTT {
				clock = &clockSample{Source: "tenant_clock", Offset: off, Uncertainty: unc, RTT: rtt}
			}
		}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			off, unc := offsetAt(d, t0, t1, time.Second)
			if date == nil || rtt < date.RTT {
				date = &clockSample{Source: "http_date", Offset: off, Uncertainty: unc, RTT: rtt}
			}
		}
		if resp.Close || rtt > time.Second/2 {
			break // slow link: one sample is all the timeout allows
		}
	}
	var out []clockSample
	if clock != nil {
		out = append(out, *clock)
	}
	if date != nil {
		out = append(out, *date)
	}
	if len(out) == 0 {
		o := Failed(fmt.Sprintf("%s gave neither a JSON clock nor a Date header", u.String()),
			"a proxy page answers instead of the tenant: "+fixProxy)
		return nil, &o
	}
	return out, nil
}

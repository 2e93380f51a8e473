package installer

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
)

// waitHealthy is the health gate: the service must be running and stay up
// for Options.Stable, and the probe must succeed, within StartTimeout.
func (in *Installer) waitHealthy(ctx context.Context) (platform.ServiceState, error) {
	ctx, cancel := context.WithTimeout(ctx, in.o.StartTimeout)
	defer cancel()
	in.logf("health gate: %s must stay up for %s", in.p.Service, in.o.Stable)
	st, err := in.svc.WaitRunning(ctx, in.p.Service, in.o.Stable)
	if err != nil {
		return st, fmt.Errorf("%w; see %s", err, in.p.Paths.LogFile)
	}
	var perr error
	for {
		if perr = in.o.Probe(ctx); perr == nil {
			break
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("%w: the connector does not answer: %v; see %s", platform.ErrServiceUnhealthy, perr, in.p.Paths.LogFile)
		case <-time.After(250 * time.Millisecond):
		}
	}
	// Still running after answering (not crashing right after).
	if st2, err := in.svc.Status(in.p.Service); err == nil && (!st2.Running() || st2.Restarts != st.Restarts) && st.Note == "" {
		return st2, fmt.Errorf("%w: %s stopped after answering (state %s/%s); see %s", platform.ErrServiceUnhealthy, in.p.Service, st2.Active, st2.Sub, in.p.Paths.LogFile)
	}
	return st, nil
}

// portProbe is the connector's health probe: when config.json sets a PORT,
// the connector must answer on it (anything but a 5xx).
func (in *Installer) portProbe(ctx context.Context) error {
	cfg, err := connector.ReadConfig(in.p.Paths.ConfigFile)
	if err != nil {
		return nil // nothing to probe
	}
	raw, ok := cfg.Raw("PORT")
	if !ok {
		return nil
	}
	port, err := strconv.Atoi(strings.Trim(string(raw), `"`))
	if err != nil || port <= 0 || port > 65535 {
		return nil
	}
	c := http.Client{Timeout: 2 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("connector answered %s", resp.Status)
	}
	return nil
}

// PortProbe is the default health probe (Options.Probe when nil): a caller
// that adds its own conditions to the gate runs it first.
func (in *Installer) PortProbe(ctx context.Context) error { return in.portProbe(ctx) }

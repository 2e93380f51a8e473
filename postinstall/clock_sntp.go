package postinstall

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/beevik/ntp"
)

// sntpSample asks server ("host" or "host:port", default port 123) for the
// time once, within ctx.
func sntpSample(ctx context.Context, server string) (clockSample, error) {
	timeout := 3 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) / 2; left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return clockSample{}, fmt.Errorf("SNTP %s: no time left", server)
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "123")
	}
	resp, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: timeout})
	if err != nil {
		return clockSample{}, fmt.Errorf("SNTP %s: %w", server, err)
	}
	if err := resp.Validate(); err != nil {
		return clockSample{}, fmt.Errorf("SNTP %s: unusable answer: %w", server, err)
	}
	return clockSample{Source: "sntp", Offset: resp.ClockOffset, Uncertainty: resp.RTT/2 + resp.RootDistance, RTT: resp.RTT}, nil
}

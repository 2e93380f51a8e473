//go:build windows

package platform

import (
	"context"
	"fmt"
	"time"
)

func (p *Platform) hostServices() ServiceManager { return windowsServices{} }

func (p *Platform) checkServiceSupport() error { return notYet("the connector's service") }

// windowsServices is not built yet: every call says so and fails.
type windowsServices struct{}

func notYet(what string) error {
	return fmt.Errorf("%s on Windows: %w (the MSI-based Windows install lands in a later release)", what, ErrNotSupported)
}

func (windowsServices) Install(ServiceSpec) (bool, error) { return false, notYet("service install") }
func (windowsServices) Uninstall(string) error            { return notYet("service uninstall") }
func (windowsServices) Start(string) error                { return notYet("service start") }
func (windowsServices) Stop(string) error                 { return notYet("service stop") }
func (windowsServices) Restart(string) error              { return notYet("service restart") }
func (windowsServices) Status(string) (ServiceState, error) {
	return ServiceState{Active: "unknown"}, notYet("service status")
}
func (windowsServices) WaitRunning(context.Context, string, time.Duration) (ServiceState, error) {
	return ServiceState{Active: "unknown"}, notYet("service status")
}

func (p *Platform) findConnector() (*ConnectorProduct, error) { return nil, notYet("finding the installed connector") }

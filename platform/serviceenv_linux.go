//go:build linux

package platform

func (p *Platform) reloadServiceManager() error { return systemctl("daemon-reload") }

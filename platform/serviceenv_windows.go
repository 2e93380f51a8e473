//go:build windows

package platform

import (
	"fmt"
	"strings"
)

// envServices are the services whose environment carries the proxy: the
// connector's, and the admin console's when it is installed.
func (p *Platform) envServices() []string {
	out := []string{p.Service}
	if p.AdminService != "" {
		out = append(out, p.AdminService)
	}
	return out
}

func (p *Platform) windowsServiceEnv() (map[string]string, error) {
	key, value, ok := serviceEnvValue(p.Service)
	if !ok {
		return nil, nil
	}
	block, err := readMultiSZ(key, value)
	if err != nil {
		return nil, err
	}
	return EnvFromBlock(block), nil
}

func (p *Platform) windowsServiceEnvLocation() string {
	key, value, ok := serviceEnvValue(p.Service)
	if !ok {
		return hklm(serviceKeyPath(p.Service)) + " (service not installed)"
	}
	return hklm(key) + `\` + value
}

// setWindowsServiceEnv writes env into each installed service's registry
// environment (see SetServiceEnv). nssm's Parameters key is then given an
// ACL for SYSTEM and Administrators only: the proxy password is in it.
func (p *Platform) setWindowsServiceEnv(env map[string]string) (*ServiceEnvResult, error) {
	res := &ServiceEnvResult{Registry: true}
	var missing []string
	for _, name := range p.envServices() {
		key, value, ok := serviceEnvValue(name)
		if !ok {
			missing = append(missing, name)
			continue
		}
		changed, err := setRegEnv(key, value, env)
		if err != nil {
			return res, err
		}
		if changed {
			res.Changed = true
			res.Files = append(res.Files, hklm(key)+`\`+value)
		}
		if changed && len(env) > 0 && strings.HasSuffix(key, `\Parameters`) {
			if err := restrictKey(key); err != nil {
				res.Note = fmt.Sprintf("could not narrow the ACL of %s to SYSTEM and Administrators (%v): other local users may read the proxy password there", hklm(key), err)
			}
		}
	}
	if len(missing) > 0 && len(missing) == len(p.envServices()) {
		res.Note = "the connector's service is not installed: its environment is not set (config.json carries the proxy)"
	}
	return res, nil
}

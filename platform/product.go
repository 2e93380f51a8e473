package platform

// ConnectorUpgradeCode is the UpgradeCode of the connector's MSI: every
// release of it shares this code, and its uninstall entries carry it.
const ConnectorUpgradeCode = "{1072AB9E-1842-4AFA-9CF2-545462CD60E2}"

// ConnectorProduct is an installed connector found on Windows from the
// MSI's uninstall entry and the service that runs it.
type ConnectorProduct struct {
	ProductCode     string `json:"product_code"` // {GUID} of the installed MSI product
	DisplayName     string `json:"display_name"`
	DisplayVersion  string `json:"display_version"`
	InstallLocation string `json:"install_location"`
	// ServiceImagePath is the registered command line of Platform.Service
	// ("" when the service is missing).
	ServiceImagePath string `json:"service_image_path,omitempty"`
	// Host is how the service runs node: "nssm" (the official MSI) or
	// "direct" (node.exe registered as the service itself).
	Host string `json:"host,omitempty"`
	// Application, AppDirectory and AppParameters are the program the
	// service runs, its folder and its arguments: nssm's Parameters
	// values, or for a direct service the ImagePath split (no folder).
	Application   string `json:"application,omitempty"`
	AppDirectory  string `json:"app_directory,omitempty"`
	AppParameters string `json:"app_parameters,omitempty"`
}

// ConnectorProduct.Host values.
const (
	HostNSSM   = "nssm"
	HostDirect = "direct"
)

// FindConnector looks for an installed connector on Windows: the MSI
// uninstall entry with ConnectorUpgradeCode (or the connector's
// DisplayName), and the service's ImagePath. A service registered
// without an uninstall entry is still reported (ProductCode ""), with
// InstallLocation from the program's folder when the entry records none
// (the official MSI records none). It returns nil, nil when there is
// neither, and ErrNotSupported off Windows or under --root.
func (p *Platform) FindConnector() (*ConnectorProduct, error) {
	if p.OS != "windows" || p.Sandboxed() {
		return nil, ErrNotSupported
	}
	return p.findConnector()
}

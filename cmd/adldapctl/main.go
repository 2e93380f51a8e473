// Command adldapctl installs, upgrades, configures and checks the Auth0
// AD/LDAP Connector.
package main

import (
	"os"

	"github.com/adldapctl/adldapctl/cmd/adldapctl/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }

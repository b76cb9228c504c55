package up

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	serviceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`) // a Kubernetes DNS label
)

// ParseEnv reads `orange up -env` values: NAME=VALUE for every replica, service:NAME=VALUE
// for one Service's (the part before the first "=" names the variable, so a value may hold
// ":" and "="). A later value for the same variable wins. The result is Config.Env and
// Config.ServiceEnv.
func ParseEnv(values []string) (map[string]string, map[string]map[string]string, error) {
	all := map[string]string{}
	per := map[string]map[string]string{}
	for _, v := range values {
		key, value, ok := strings.Cut(v, "=")
		if !ok {
			return nil, nil, fmt.Errorf("-env %q: want NAME=VALUE or service:NAME=VALUE", v)
		}
		svc, name, scoped := strings.Cut(key, ":")
		if !scoped {
			svc, name = "", key
		}
		if !envName.MatchString(name) {
			return nil, nil, fmt.Errorf("-env %q: %q is not an environment variable name", v, name)
		}
		if name == "PORT" {
			return nil, nil, fmt.Errorf("-env %q: orange up gives each replica its own PORT", v)
		}
		if !scoped {
			all[name] = value
			continue
		}
		if !serviceName.MatchString(svc) {
			return nil, nil, fmt.Errorf("-env %q: %q is not a Knative Service name", v, svc)
		}
		if per[svc] == nil {
			per[svc] = map[string]string{}
		}
		per[svc][name] = value
	}
	return all, per, nil
}

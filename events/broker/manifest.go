package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// API groups and kinds the loader reads.
const (
	eventingV1 = "eventing.knative.dev/v1"
	sourcesV1  = "sources.knative.dev/v1"
	servingV1  = "serving.knative.dev/v1"
)

// attributeName is what Knative's webhook accepts as a filter attribute name
// (apis/eventing/v1/trigger_validation.go).
var attributeName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// object is one manifest document; spec stays raw until its kind is known.
type object struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
}

// where names the object in errors: "base/x.yaml: Trigger orange/name".
func (o *object) where() string {
	return fmt.Sprintf("%s: %s %s/%s", o.file, o.Kind, o.namespace(), o.Metadata.Name)
}

// namespace is the object's namespace; "default" when the file names none, as kubectl
// applies it without kustomize.
func (o *object) namespace() string {
	if o.Metadata.Namespace == "" {
		return "default"
	}
	return o.Metadata.Namespace
}

// readObjects decodes every document of every *.yaml / *.yml file directly in dir.
func readObjects(fsys fs.FS, dir string) ([]*object, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []*object
	for _, ent := range entries {
		name := ent.Name()
		if ent.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		file := path.Join(dir, name)
		raw, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
				continue // an empty document, or not an object
			}
			o := &object{file: file}
			if err := doc.Decode(o); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// is reports whether o is kind of group/version apiVersion; the same kind of another
// apiVersion is an error, not something to skip quietly.
func (o *object) is(apiVersion, kind string) (bool, error) {
	if o.Kind != kind || !strings.HasPrefix(o.APIVersion, strings.SplitN(apiVersion, "/", 2)[0]+"/") {
		return false, nil
	}
	if o.APIVersion != apiVersion {
		return false, fmt.Errorf("%s: apiVersion %s: only %s is supported", o.where(), o.APIVersion, apiVersion)
	}
	return true, nil
}

type rawRef struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Name       string `yaml:"name"`
	Namespace  string `yaml:"namespace"`
}

type rawDestination struct {
	Ref      *rawRef `yaml:"ref"`
	URI      string  `yaml:"uri"`
	Audience string  `yaml:"audience"`
}

type rawDelivery struct {
	Retry          *int            `yaml:"retry"`
	BackoffPolicy  *string         `yaml:"backoffPolicy"`
	BackoffDelay   *string         `yaml:"backoffDelay"`
	Timeout        *string         `yaml:"timeout"`
	RetryAfterMax  *string         `yaml:"retryAfterMax"`
	Format         *string         `yaml:"format"`
	DeadLetterSink *rawDestination `yaml:"deadLetterSink"`
}

// destination resolves a Destination whose ref defaults to namespace, accepting a Broker
// ref only when brokerOK. field prefixes errors.
func destination(d *rawDestination, namespace, field string, brokerOK bool) (Destination, error) {
	if d == nil || d.Ref == nil {
		if d != nil && d.URI != "" {
			return Destination{}, fmt.Errorf("%s.uri %q: the in-process broker delivers only to a ref (a Knative Service), not to a bare URI", field, d.URI)
		}
		return Destination{}, fmt.Errorf("%s.ref is not set", field)
	}
	ref := d.Ref
	out := Destination{Namespace: namespace, Audience: d.Audience}
	if ref.Namespace != "" {
		out.Namespace = ref.Namespace
	}
	switch {
	case ref.Name == "":
		return Destination{}, fmt.Errorf("%s.ref.name is not set", field)
	case ref.APIVersion == servingV1 && ref.Kind == "Service":
		out.Service = ref.Name
	case brokerOK && ref.APIVersion == eventingV1 && ref.Kind == "Broker":
		out.Broker = ref.Name
	default:
		want := "a serving.knative.dev/v1 Service"
		if brokerOK {
			want += " or an eventing.knative.dev/v1 Broker"
		}
		return Destination{}, fmt.Errorf("%s.ref is %s %s: the in-process broker reaches only %s", field, ref.APIVersion, ref.Kind, want)
	}
	if d.URI != "" {
		u, err := url.Parse(d.URI)
		if err != nil {
			return Destination{}, fmt.Errorf("%s.uri %q: %w", field, d.URI, err)
		}
		if u.IsAbs() || u.Host != "" {
			// Knative's resolver refuses an absolute URI next to a ref.
			return Destination{}, fmt.Errorf("%s.uri %q: must be relative when a ref is set", field, d.URI)
		}
		base := &url.URL{Scheme: "http", Host: "service"}
		out.Path = base.ResolveReference(u).RequestURI()
	}
	return out, nil
}

// delivery converts a delivery spec, refusing what Knative's webhook refuses with its
// default features (retryAfterMax) and what the in-process broker cannot honour.
func delivery(d *rawDelivery, namespace string) (Delivery, error) {
	var out Delivery
	if d.Retry != nil {
		if *d.Retry < 0 {
			return out, fmt.Errorf("spec.delivery.retry %d: must not be negative", *d.Retry)
		}
		out.Retry = *d.Retry
	}
	if d.BackoffPolicy != nil {
		switch p := BackoffPolicy(*d.BackoffPolicy); p {
		case BackoffLinear, BackoffExponential:
			out.BackoffPolicy = p
		default:
			return out, fmt.Errorf("spec.delivery.backoffPolicy %q: want linear or exponential", *d.BackoffPolicy)
		}
	}
	if d.BackoffDelay != nil {
		v, err := ParseISODuration(*d.BackoffDelay)
		if err != nil {
			return out, fmt.Errorf("spec.delivery.backoffDelay: %w", err)
		}
		out.BackoffDelay = v
	}
	if d.Timeout != nil {
		v, err := ParseISODuration(*d.Timeout)
		if err == nil && v == 0 {
			err = errors.New("must not be zero")
		}
		if err != nil {
			return out, fmt.Errorf("spec.delivery.timeout: %w", err)
		}
		out.Timeout = v
	}
	if d.RetryAfterMax != nil {
		return out, errors.New("spec.delivery.retryAfterMax: needs Knative's delivery-retryafter feature (disabled by default); the in-process broker does not honour Retry-After")
	}
	if d.Format != nil && *d.Format != "binary" {
		return out, fmt.Errorf("spec.delivery.format %q: the in-process broker delivers in binary mode only", *d.Format)
	}
	if d.DeadLetterSink != nil {
		dls, err := destination(d.DeadLetterSink, namespace, "spec.delivery.deadLetterSink", false)
		if err != nil {
			return out, err
		}
		out.DeadLetterSink = &dls
	}
	return out, nil
}

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// MinScaleAnnotation is the Knative autoscaling annotation prescale changes,
// always on the revision template (spec.template.metadata.annotations): on
// the Service's own metadata Knative would ignore it.
const MinScaleAnnotation = "autoscaling.knative.dev/min-scale"

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Client patches Knative Services in one namespace.
type Client struct {
	BaseURL   string // e.g. https://10.0.0.1:443
	Namespace string
	Token     string
	HTTP      *http.Client
}

// InCluster builds a Client from the pod's ServiceAccount mount and the
// KUBERNETES_SERVICE_* environment.
func InCluster() (*Client, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset")
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return nil, err
	}
	ns, err := os.ReadFile(saDir + "/namespace")
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	return &Client{
		BaseURL:   "https://" + net.JoinHostPort(host, port),
		Namespace: strings.TrimSpace(string(ns)),
		Token:     strings.TrimSpace(string(token)),
		HTTP: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		},
	}, nil
}

func (c *Client) url(service string) string {
	return fmt.Sprintf("%s/apis/serving.knative.dev/v1/namespaces/%s/services/%s", c.BaseURL, c.Namespace, service)
}

// MinScale returns the current min-scale annotation of the Service's revision
// template ("" when unset). It also proves the Service exists before patching.
func (c *Client) MinScale(ctx context.Context, service string) (string, error) {
	body, err := c.do(ctx, http.MethodGet, service, "", nil)
	if err != nil {
		return "", err
	}
	var svc struct {
		Spec struct {
			Template struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(body, &svc); err != nil {
		return "", fmt.Errorf("decoding Service %s: %w", service, err)
	}
	return svc.Spec.Template.Metadata.Annotations[MinScaleAnnotation], nil
}

// SetMinScale sends one JSON merge patch that sets only the min-scale
// annotation of the revision template. Knative rolls a new Revision with the
// higher floor; everything else in the Service stays as deployed.
func (c *Client) SetMinScale(ctx context.Context, service string, n int) error {
	_, err := c.do(ctx, http.MethodPatch, service, "application/merge-patch+json", MinScalePatch(n))
	return err
}

// MinScalePatch is the merge patch SetMinScale sends.
func MinScalePatch(n int) []byte {
	p := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{MinScaleAnnotation: strconv.Itoa(n)},
	}}}}
	b, _ := json.Marshal(p) // maps of strings always marshal
	return b
}

func (c *Client) do(ctx context.Context, method, service, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(service), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s Service %s: %w", method, service, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s Service %s: %s: %s", method, service, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}

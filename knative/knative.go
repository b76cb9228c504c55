// Package knative holds the deployment manifests of Orange Car Rental: a
// kustomize tree with one Knative Service per function, the Broker, its
// Triggers and PingSources in base/, and the per-environment scale, broker
// class and pre-scaling in overlays/staging and overlays/production.
//
// The package is a leaf on purpose. It only exports the files, so the
// in-process broker of `orange dev` can read the very Trigger, PingSource
// and EventPolicy YAML that production runs (local routing and producer
// policies cannot drift from the cluster)
// without pulling Knative's or kustomize's Go packages into any binary.
// Everything that parses or validates these files with Knative's own types
// lives in the external test package.
package knative

import "embed"

// Manifests is the manifest tree, rooted so that "base/…" and
// "overlays/<env>/…" are its top-level directories. Base files carry their
// namespace explicitly, so a reader that does not run kustomize (the
// in-process broker) sees the same objects the cluster gets.
//
//go:embed base overlays
var Manifests embed.FS

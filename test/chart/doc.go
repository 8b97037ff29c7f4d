// Package chart holds the tests of the Helm chart in charts/restkube: helm lint, the values
// schema, what `helm template` renders, that every rendered object is accepted by a real
// kube-apiserver (envtest, server-side dry run), and that the chart's RBAC and CRD equal what
// controller-gen writes into config/. The tests need bin/tools/helm (`make test` installs it)
// and the envtest binaries in KUBEBUILDER_ASSETS or bin/k8s.
package chart

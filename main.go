/*
Copyright 2026 The RestKube Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command manager is the RestKube operator: it watches Database resources and keeps, for each,
// the Secrets, claim, Deployment and Service that run its dbserver.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2/textlogger"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dbv1 "github.com/restkube/restkube/api/v1alpha1"
	"github.com/restkube/restkube/controllers"
	"github.com/restkube/restkube/internal/version"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	var (
		image         = fs.String("dbserver-image", os.Getenv("DBSERVER_IMAGE"), "dbserver image for Databases without spec.image (default: $DBSERVER_IMAGE)")
		metricsAddr   = fs.String("metrics-bind-address", ":8080", "address the Prometheus metrics endpoint binds to; 0 disables it")
		probeAddr     = fs.String("health-probe-bind-address", ":8081", "address the /healthz and /readyz probes bind to")
		pprofAddr     = fs.String("pprof-bind-address", "0", "address /debug/pprof binds to, for profiling; 0 disables it (the default)")
		leaderElect   = fs.Bool("leader-elect", false, "elect a leader, so that only one of several replicas reconciles")
		kubeconfig    = fs.String("kubeconfig", "", "path to a kubeconfig; default: $KUBECONFIG, the in-cluster service account, then ~/.kube/config")
		qps           = fs.Float64("kube-api-qps", defaultQPS, "requests per second the manager may send to the API server; negative: no client-side limit")
		burst         = fs.Int("kube-api-burst", defaultBurst, "burst of requests above --kube-api-qps")
		workers       = fs.Int("max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "Databases reconciled at once")
		showVersion   = fs.Bool("version", false, "print the version and exit")
		logConfig     = textlogger.NewConfig()
		leaderElectID = "restkube-operator.db.restkube.dev"
	)
	logConfig.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *showVersion {
		fmt.Println(version.String())
		return nil
	}
	ctrl.SetLogger(textlogger.NewLogger(logConfig))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(dbv1.AddToScheme(scheme))

	cfg, err := restConfig(*kubeconfig)
	if err != nil {
		return fmt.Errorf("while loading the kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	// No gzip between the manager and the API server, as kube-controller-manager and
	// kube-scheduler do: the two sit on one network, and a watch started as a WatchList stays
	// compressed for its whole life, one gzip flush per event, which cost the API server more
	// CPU than the Databases' status writes (make bench-operator).
	cfg.DisableCompression = true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		PprofBindAddress:       *pprofAddr,
		LeaderElection:         *leaderElect,
		LeaderElectionID:       leaderElectID,
		// The new leader need not wait for the old lease to expire when the old one exits cleanly.
		// The Lease itself belongs to whoever installed the operator: the chart ships it (see
		// charts/restkube/templates/leader-election-lease.yaml), so `helm uninstall` removes it.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controllers.CacheOptions(),
		Client:                        controllers.ClientOptions(),
	})
	if err != nil {
		return fmt.Errorf("while creating the manager: %w", err)
	}
	r, err := controllers.NewDatabaseReconciler(mgr, controllers.Options{DefaultImage: *image, MaxConcurrentReconciles: *workers})
	if err != nil {
		return fmt.Errorf("while creating the Database reconciler: %w", err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("while setting up the Database controller: %w", err)
	}
	if err := controllers.NewDatabaseBackupReconciler(mgr.GetClient(), mgr.GetAPIReader(), controllers.BackupOptions{Recorder: mgr.GetEventRecorder(controllers.EventSource)}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("while setting up the DatabaseBackup controller: %w", err)
	}
	if err := controllers.NewScheduledBackupReconciler(mgr.GetClient(), mgr.GetEventRecorder(controllers.EventSource), nil).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("while setting up the backup schedule controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("while adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("while adding the readiness check: %w", err)
	}
	if *image == "" {
		log.Info("no --dbserver-image nor DBSERVER_IMAGE: Databases without spec.image will stall")
	}
	log.Info("starting the manager", "version", version.String(), "dbserverImage", *image)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("while running the manager: %w", err)
	}
	return nil
}

// The client-side rate limit of the manager's API requests, chosen with `make bench-operator`
// (see the README's scale section): a thousand Databases created at once are reconciled without
// waiting on the limiter, and API Priority and Fairness still protects the API server.
const (
	defaultQPS   = 200
	defaultBurst = 400
)

// restConfig loads the kubeconfig at path, or, when path is empty, the usual way ($KUBECONFIG,
// in-cluster, ~/.kube/config).
func restConfig(path string) (*rest.Config, error) {
	if path == "" {
		return ctrl.GetConfig()
	}
	return clientcmd.BuildConfigFromFlags("", path)
}

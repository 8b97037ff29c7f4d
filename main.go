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
		leaderElect   = fs.Bool("leader-elect", false, "elect a leader, so that only one of several replicas reconciles")
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

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("while loading the kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		LeaderElection:         *leaderElect,
		LeaderElectionID:       leaderElectID,
		// The new leader need not wait for the old lease to expire when the old one exits cleanly.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controllers.CacheOptions(),
	})
	if err != nil {
		return fmt.Errorf("while creating the manager: %w", err)
	}
	r := controllers.NewDatabaseReconciler(mgr.GetClient(), mgr.GetAPIReader(), mgr.GetEventRecorder("restkube-operator"),
		controllers.Options{DefaultImage: *image})
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("while setting up the Database controller: %w", err)
	}
	if err := controllers.NewDatabaseBackupReconciler(mgr.GetClient(), mgr.GetAPIReader(), controllers.BackupOptions{}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("while setting up the DatabaseBackup controller: %w", err)
	}
	if err := controllers.NewScheduledBackupReconciler(mgr.GetClient(), nil).SetupWithManager(mgr); err != nil {
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

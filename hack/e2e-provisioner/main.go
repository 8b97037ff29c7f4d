// Command e2e-provisioner is the storage of the e2e cluster: a dynamic provisioner for one
// StorageClass that backs each claim with a host directory owned by a non-root uid.
//
// kube-controller-manager's own hostpath provisioner creates root-owned 0750 directories that
// non-root pods (uid 65532) cannot write, and no CSI driver can be pulled here. This one runs on
// the host next to the kubelet (it creates the directories the pods mount), polls the API
// server, and:
//   - for each Pending claim of a class whose provisioner is -name (after the scheduler picked
//     the node under WaitForFirstConsumer), creates <dir>/<namespace>_<claim>_<uid> owned by
//     -uid with mode 0777 and a hostPath PersistentVolume pre-bound to the claim;
//   - for each Released volume it provisioned whose reclaim policy is Delete, removes the
//     directory and the volume.
//
// It serves one node and ignores capacity: enough for a test cluster, not for anything else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	annProvisionedBy = "pv.kubernetes.io/provisioned-by"
	annSelectedNode  = "volume.kubernetes.io/selected-node"
	annDefaultClass  = "storageclass.kubernetes.io/is-default-class"
)

// Provisioner holds what one pass needs; no state survives between passes but the cluster's.
type Provisioner struct {
	Client kubernetes.Interface
	Name   string // the StorageClass provisioner this serves
	Dir    string // absolute directory holding the volumes
	UID    int    // owner of new directories
	Logf   func(format string, args ...any)
}

func main() {
	var p Provisioner
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of a user allowed to manage PVs")
	flag.StringVar(&p.Name, "name", "restkube.dev/e2e-hostpath", "provisioner name in the StorageClass")
	flag.StringVar(&p.Dir, "dir", "", "directory holding the volumes (absolute)")
	flag.IntVar(&p.UID, "uid", 65532, "uid and gid owning new volume directories")
	interval := flag.Duration("interval", 500*time.Millisecond, "how often to look for work")
	flag.Parse()
	if *kubeconfig == "" || !filepath.IsAbs(p.Dir) {
		log.Fatal("e2e-provisioner: -kubeconfig and an absolute -dir are required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("e2e-provisioner: %v", err)
	}
	p.Client = kubernetes.NewForConfigOrDie(cfg)
	p.Logf = log.Printf
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		log.Fatalf("e2e-provisioner: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Printf("e2e-provisioner: serving %s from %s", p.Name, p.Dir)
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		if err := p.Pass(ctx); err != nil && ctx.Err() == nil {
			log.Printf("e2e-provisioner: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass provisions every claim waiting for this provisioner and deletes every released volume.
func (p *Provisioner) Pass(ctx context.Context) error {
	classes, err := p.Client.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("while listing storage classes: %w", err)
	}
	ours := map[string]*storagev1.StorageClass{}
	defaultClass := ""
	for i := range classes.Items {
		sc := &classes.Items[i]
		if sc.Provisioner != p.Name {
			continue
		}
		ours[sc.Name] = sc
		if sc.Annotations[annDefaultClass] == "true" {
			defaultClass = sc.Name
		}
	}
	claims, err := p.Client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("while listing claims: %w", err)
	}
	var errs []error
	for i := range claims.Items {
		pvc := &claims.Items[i]
		className := defaultClass
		if pvc.Spec.StorageClassName != nil {
			className = *pvc.Spec.StorageClassName
		}
		sc := ours[className]
		if sc == nil || pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil {
			continue
		}
		if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer &&
			pvc.Annotations[annSelectedNode] == "" {
			continue // the scheduler has not placed a consumer yet
		}
		if err := p.provision(ctx, pvc, sc); err != nil {
			errs = append(errs, err)
		}
	}
	pvs, err := p.Client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("while listing volumes: %w", err))...)
	}
	for i := range pvs.Items {
		pv := &pvs.Items[i]
		if pv.Annotations[annProvisionedBy] != p.Name || pv.Status.Phase != corev1.VolumeReleased ||
			pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
			continue
		}
		if err := p.remove(ctx, pv); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass) error {
	pvName := "pvc-" + string(pvc.UID)
	dir := filepath.Join(p.Dir, fmt.Sprintf("%s_%s_%s", pvc.Namespace, pvc.Name, pvc.UID))
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("while creating %s: %w", dir, err)
	}
	// MkdirAll honours the umask; the pods' uid must be able to write whatever fsGroup says.
	if err := os.Chmod(dir, 0o777); err != nil {
		return fmt.Errorf("while opening %s: %w", dir, err)
	}
	if err := os.Chown(dir, p.UID, p.UID); err != nil {
		return fmt.Errorf("while handing %s to uid %d: %w", dir, p.UID, err)
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	dirType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName, Annotations: map[string]string{annProvisionedBy: p.Name}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              sc.Name,
			VolumeMode:                    pvc.Spec.VolumeMode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirType},
			},
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
		},
	}
	if node := pvc.Annotations[annSelectedNode]; node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		}}
	}
	_, err := p.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{FieldManager: "e2e-provisioner"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("while creating volume %s for %s/%s: %w", pvName, pvc.Namespace, pvc.Name, err)
	}
	p.Logf("e2e-provisioner: provisioned %s at %s for %s/%s", pvName, dir, pvc.Namespace, pvc.Name)
	return nil
}

func (p *Provisioner) remove(ctx context.Context, pv *corev1.PersistentVolume) error {
	if hp := pv.Spec.HostPath; hp != nil {
		// Never remove anything outside our own directory, whatever a volume says.
		if rel, err := filepath.Rel(p.Dir, hp.Path); err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.Contains(rel, "/") {
			return fmt.Errorf("volume %s points outside %s (%s): left alone", pv.Name, p.Dir, hp.Path)
		}
		if err := os.RemoveAll(hp.Path); err != nil {
			return fmt.Errorf("while removing %s: %w", hp.Path, err)
		}
	}
	err := p.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("while deleting volume %s: %w", pv.Name, err)
	}
	p.Logf("e2e-provisioner: deleted %s", pv.Name)
	return nil
}

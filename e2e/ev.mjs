import * as k8s from "@kubernetes/client-node";
const kc = new k8s.KubeConfig(); kc.loadFromFile("/work/main/.e2e/local-cluster/kubeconfig");
const w = new k8s.Watch(kc);
let last = Date.now();
const start = Date.now();
await w.watch("/api/v1/namespaces", { allowWatchBookmarks: true, resourceVersion: "1", timeoutSeconds: 200 }, (type, obj) => { if (type === "BOOKMARK") { console.log("bookmark after", Math.round((Date.now()-last)/1000), "s"); last = Date.now(); } }, (err) => console.log("done", err?.name));
w.requestTimeoutMs = 300000;
setTimeout(() => process.exit(0), 150000);

"""bench/certs.py: a throwaway CA and certificates signed by it, made with `openssl`, for the
benches that speak TLS (control_tls.py, store_tls.py, chaos_cluster.py)."""
import os, subprocess

# P-256 keys, unencrypted.
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def make(directory, leaves, suffix=".pem", days=2):
    """Writes ca.key and ca<suffix> (a CA), then for each (name, subject, extensions) of
    `leaves` name.key and name<suffix> signed by it; `extensions` are openssl extension lines
    (subjectAltName, extendedKeyUsage…)."""
    os.makedirs(directory, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ca = "ca" + suffix
    openssl("req", "-x509", *EC, "-days", str(days), "-subj", "/CN=veer bench CA", "-keyout", "ca.key", "-out", ca,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subject, extensions in leaves:
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write(extensions + "\n")
        openssl("req", *EC, "-subj", subject, "-keyout", name + ".key", "-out", name + ".csr")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca, "-CAkey", "ca.key", "-CAcreateserial",
                "-days", str(days), "-extfile", name + ".ext", "-out", name + suffix)

//! OpenPGP keys and signatures made with gpg in a throwaway home, the way runc's
//! script/release_sign.sh and helm's `make sign` make them (`gpg --clear-sign`,
//! `gpg --armor --detach-sign`), with gpg's clock set for each key and signature.

use std::path::Path;
use std::process::{Command, Output};

pub struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    pub fn new() -> Gpg {
        let home = tempfile::tempdir().unwrap();
        std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        Gpg { home }
    }

    /// Runs gpg at `when` (`20200101T000000`) or now.
    fn run(&self, when: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new("gpg");
        cmd.arg("--homedir").arg(self.home.path());
        cmd.args(["--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""]);
        if let Some(when) = when {
            cmd.arg("--faked-system-time").arg(format!("{when}!"));
        }
        let out = cmd.args(args).output().expect("gpg is installed (.ci/run installs gnupg)");
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// The fingerprints gpg lists for `who`, primary first.
    fn fingerprints(&self, who: &str) -> Vec<String> {
        let out = self.run(None, &["--with-colons", "--list-keys", who]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("fpr:"))
            .map(|l| l.split(':').nth(9).unwrap_or_default().to_string())
            .collect()
    }

    /// A new primary key (`ed25519`/`rsa3072`, usage `sign,cert` or `cert`), made at
    /// `when`; its fingerprint.
    pub fn key(&self, user_id: &str, algo: &str, usage: &str, when: Option<&str>) -> String {
        self.run(when, &["--quick-gen-key", user_id, algo, usage, "never"]);
        self.fingerprints(&format!("={user_id}"))[0].clone()
    }

    /// A new subkey of `primary`; its fingerprint.
    pub fn subkey(&self, primary: &str, algo: &str, usage: &str, when: Option<&str>) -> String {
        self.run(when, &["--quick-add-key", primary, algo, usage, "never"]);
        self.fingerprints(primary).last().cloned().unwrap()
    }

    /// Sets `primary`'s expiry to `date` with a self-signature made at `when`.
    pub fn expire(&self, primary: &str, date: &str, when: &str) {
        self.run(Some(when), &["--quick-set-expire", primary, date]);
    }

    /// Revokes `primary` with the revocation certificate gpg wrote when it made the key.
    pub fn revoke(&self, primary: &str) {
        let cert = self.home.path().join(format!("openpgp-revocs.d/{primary}.rev"));
        let text = std::fs::read_to_string(&cert).unwrap().replace(":-----BEGIN", "-----BEGIN");
        let armored = self.home.path().join("revocation.asc");
        std::fs::write(&armored, text).unwrap();
        self.run(None, &["--import", armored.to_str().unwrap()]);
    }

    /// Replaces `file` by its clear-signed self, signed by exactly `signer` at `when`.
    pub fn clearsign(&self, signer: &str, when: Option<&str>, file: &Path) {
        let out = file.with_extension("signed");
        let (signer, file_arg, out_arg) = (format!("{signer}!"), file.to_str().unwrap(), out.to_str().unwrap());
        let args = ["--local-user", &signer, "--digest-algo", "SHA256", "--clear-sign", "--armor", "--output", out_arg];
        self.run(when, &[&args[..], &[file_arg]].concat());
        std::fs::rename(&out, file).unwrap();
    }

    /// An armored detached signature of `file` by exactly `signer` at `when`, at `out`.
    pub fn detach(&self, signer: &str, when: Option<&str>, file: &Path, out: &Path) {
        let (signer, file_arg, out_arg) = (format!("{signer}!"), file.to_str().unwrap(), out.to_str().unwrap());
        let args =
            ["--local-user", &signer, "--digest-algo", "SHA256", "--detach-sign", "--armor", "--output", out_arg];
        self.run(when, &[&args[..], &[file_arg]].concat());
    }

    /// The armored public keys of `primaries`, as a keyring file.
    pub fn export(&self, primaries: &[&str]) -> Vec<u8> {
        let args = [&["--armor", "--export-options", "export-minimal", "--export"][..], primaries].concat();
        self.run(None, &args).stdout
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").arg("--homedir").arg(self.home.path()).args(["--kill", "all"]).output();
    }
}

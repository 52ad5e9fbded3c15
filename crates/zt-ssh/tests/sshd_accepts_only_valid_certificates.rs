#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A real OpenSSH sshd that trusts the zt user CA (`TrustedUserCAKeys`, no
//! authorized_keys, no passwords) lets the real ssh client in with a certificate for the
//! current user, and logs the certificate's key id (`<subject> <session id>`) and serial,
//! which is what links the host's auth log to the zt audit log. It refuses a certificate
//! for another principal, an expired one, one from another CA and one restricted to
//! another source address, and it enforces a forced command.
//!
//! sshd is `$SSHD` or `/usr/sbin/sshd` (Debian's openssh-server), ssh and ssh-keygen are
//! `$SSH`/`$SSH_KEYGEN` or in `/usr/bin`. Without them the test says so and passes,
//! unless `ZT_INTEROP=require` (as CI sets), which makes it a failure.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use support::openssh::{Sshd, TempDir, Tool, current_user, describe, tool_or_skip};
use zt_ssh::ca::{CertRequest, Issued, UserCa, session_key};

/// Writes a fresh session key and a certificate for it from `ca`; returns both paths.
fn key_and_cert(
    dir: &Path,
    name: &str,
    ca: &UserCa,
    request: impl FnOnce(CertRequest) -> CertRequest,
    login: &str,
) -> (PathBuf, PathBuf, Issued) {
    let key = session_key().unwrap();
    let key_path = dir.join(format!("{name}_key"));
    key.write_openssh_file(&key_path, russh::keys::ssh_key::LineEnding::LF)
        .unwrap();
    let session = format!("it-{name}-{}", std::process::id());
    let request = request(CertRequest::new(
        key.public_key().clone(),
        login,
        "alice@example.com",
        session,
    ));
    let issued = ca.sign(&request).unwrap();
    // Not `<key>-cert.pub`, so ssh uses exactly the CertificateFile it is given.
    let cert_path = dir.join(format!("{name}.cert"));
    std::fs::write(&cert_path, issued.certificate.to_openssh().unwrap()).unwrap();
    (key_path, cert_path, issued)
}

#[test]
fn sshd_accepts_only_valid_certificates() {
    let test = "sshd_accepts_only_valid_certificates";
    let Some([sshd_bin, ssh, keygen]) = tool_or_skip(test, [Tool::Sshd, Tool::Ssh, Tool::Keygen])
    else {
        return;
    };
    let temp = TempDir::new("sshd").unwrap();
    let dir = temp.path();
    let ca_key = dir.join("ca/ca_key");
    let ca = UserCa::load_or_generate(&ca_key).unwrap();
    let ca_pub = dir.join("ca.pub");
    std::fs::write(&ca_pub, format!("{}\n", ca.public_key_line())).unwrap();
    let mut sshd = Sshd::start(&sshd_bin, &keygen, dir, &ca_pub);
    let login = current_user();

    // A certificate for the current user: in, and sshd logs key id and serial.
    let (key, cert, issued) = key_and_cert(dir, "good", &ca, |r| r, &login);
    let output = sshd.ssh(&ssh, &login, &key, &cert, "echo ok");
    assert!(
        output.status.success(),
        "{}\nsshd:\n{}",
        describe(&output),
        sshd.log()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
    let accepted = sshd.wait_for_log(&format!(
        "ID {} (serial {})",
        issued.record.key_id, issued.record.serial
    ));
    println!("sshd: {accepted}");
    assert!(
        accepted.contains(&format!("Accepted publickey for {login} from 127.0.0.1")),
        "{accepted}"
    );
    assert!(
        accepted.contains(&format!("CA ED25519 {}", ca.fingerprint())),
        "{accepted}"
    );
    assert!(
        accepted.contains(&issued.record.key_fingerprint.to_string()),
        "{accepted}"
    );

    // The certificate's forced command wins over the one the client asks for.
    let (key, cert, _) = key_and_cert(
        dir,
        "forced",
        &ca,
        |r| r.force_command("echo forced"),
        &login,
    );
    let output = sshd.ssh(&ssh, &login, &key, &cert, "echo ok");
    assert!(
        output.status.success(),
        "{}\nsshd:\n{}",
        describe(&output),
        sshd.log()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "forced\n");

    // Refusals: each is a failed login, and sshd logs the certificate and the reason.
    let refused = |sshd: &mut Sshd,
                   name: &str,
                   (key, cert, issued): (PathBuf, PathBuf, Issued),
                   reason: &str| {
        let output = sshd.ssh(&ssh, &login, &key, &cert, "echo ok");
        assert_eq!(
            output.status.code(),
            Some(255),
            "{name}: {}\nsshd:\n{}",
            describe(&output),
            sshd.log()
        );
        assert!(output.stdout.is_empty(), "{name}: {}", describe(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("Permission denied"),
            "{name}: {}",
            describe(&output)
        );
        let failed = sshd.wait_for_log(&format!(
            "ID {} (serial {})",
            issued.record.key_id, issued.record.serial
        ));
        assert!(
            failed.contains(&format!("Failed publickey for {login} from 127.0.0.1")),
            "{name}: {failed}"
        );
        let reason = sshd.wait_for_log(reason);
        println!("sshd ({name}): {reason}\n    {failed}");
    };

    // Another principal.
    let other = key_and_cert(dir, "principal", &ca, |r| r, "zt-someone-else");
    refused(
        &mut sshd,
        "other principal",
        other,
        "Certificate invalid: name is not a listed principal",
    );

    // Expired: the same CA key, signing with a clock an hour behind.
    let past = UserCa::load(&ca_key)
        .unwrap()
        .with_lifetime(Duration::from_secs(60))
        .unwrap()
        .with_clock(|| SystemTime::now() - Duration::from_secs(3600));
    let expired = key_and_cert(dir, "expired", &past, |r| r, &login);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(expired.2.record.valid_before < now);
    refused(
        &mut sshd,
        "expired",
        expired,
        "Certificate invalid: expired",
    );

    // Not yet valid is refused as well (a clock far ahead, beyond the minute of backdating).
    let future = UserCa::load(&ca_key)
        .unwrap()
        .with_clock(|| SystemTime::now() + Duration::from_secs(3600));
    let early = key_and_cert(dir, "future", &future, |r| r, &login);
    refused(
        &mut sshd,
        "not yet valid",
        early,
        "Certificate invalid: not yet valid",
    );

    // A CA the host does not trust: sshd names it in the failure.
    let stranger = UserCa::generate("not trusted").unwrap();
    let untrusted = key_and_cert(dir, "stranger", &stranger, |r| r, &login);
    let reason = format!(
        "(serial {}) CA ED25519 {}",
        untrusted.2.record.serial,
        stranger.fingerprint()
    );
    refused(&mut sshd, "untrusted CA", untrusted, &reason);

    // Restricted to an address the client does not connect from ...
    let elsewhere = key_and_cert(
        dir,
        "source",
        &ca,
        |r| r.source_addresses(["192.0.2.0/24"]),
        &login,
    );
    refused(
        &mut sshd,
        "source-address",
        elsewhere,
        "not from a permitted source address (127.0.0.1)",
    );
    // ... while the address it does come from is fine.
    let (key, cert, _) = key_and_cert(
        dir,
        "source-ok",
        &ca,
        |r| r.source_addresses(["127.0.0.0/8", "::1"]),
        &login,
    );
    let output = sshd.ssh(&ssh, &login, &key, &cert, "echo ok");
    assert!(
        output.status.success(),
        "{}\nsshd:\n{}",
        describe(&output),
        sshd.log()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
}

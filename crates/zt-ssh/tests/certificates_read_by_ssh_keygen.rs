#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The real `ssh-keygen` reads what the CA writes: `ssh-keygen -L` shows a certificate
//! exactly as requested (type, key id, serial, validity, principal, critical options and
//! extensions) after verifying its signature; `ssh-keygen -y`/`-l` read the CA key file
//! and agree on the public key and fingerprint; and the CA loads keys ssh-keygen made,
//! refusing the kinds it does not sign with.
//!
//! ssh-keygen is `$SSH_KEYGEN` or `/usr/bin/ssh-keygen`. Without it the test says so and
//! passes, unless `ZT_INTEROP=require` (as CI sets), which makes it a failure.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use support::openssh::{TempDir, Tool, describe, run, tool_or_skip};
use zt_ssh::ca::{CaError, CertRequest, UserCa, session_key};

/// 2025-06-15T15:06:40Z.
const T: u64 = 1_750_000_000;

#[test]
fn ssh_keygen_lists_the_certificate_as_requested() {
    let Some([keygen]) = tool_or_skip("ssh_keygen_lists_the_certificate", [Tool::Keygen]) else {
        return;
    };
    let temp = TempDir::new("keygen-L").unwrap();
    let ca = UserCa::load_or_generate(temp.path().join("ca_key")).unwrap();
    let key = session_key().unwrap();
    let request = CertRequest::new(
        key.public_key().clone(),
        "ubuntu",
        "alice@example.com",
        "s-42",
    )
    .permit_agent_forwarding(true)
    .force_command("/usr/bin/uptime")
    .source_addresses(["10.0.0.0/8", "127.0.0.1"]);
    let issued = ca
        .sign_at(&request, UNIX_EPOCH + Duration::from_secs(T))
        .unwrap();
    let cert_file = temp.path().join("key-cert.pub");
    std::fs::write(&cert_file, issued.certificate.to_openssh().unwrap()).unwrap();

    let output = std::process::Command::new(&keygen)
        .env("TZ", "UTC")
        .arg("-L")
        .arg("-f")
        .arg(&cert_file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let listing = String::from_utf8(output.stdout).unwrap();
    println!("{listing}");
    let fields: Vec<&str> = listing.lines().map(str::trim).collect();
    let serial = format!("Serial: {}", issued.record.serial);
    let key_fp = format!("Public key: ED25519-CERT {}", issued.record.key_fingerprint);
    let ca_fp = format!(
        "Signing CA: ED25519 {} (using ssh-ed25519)",
        ca.fingerprint()
    );
    let expected = [
        "Type: ssh-ed25519-cert-v01@openssh.com user certificate",
        &key_fp,
        &ca_fp,
        "Key ID: \"alice@example.com s-42\"",
        &serial,
        "Valid: from 2025-06-15T15:05:40 to 2025-06-15T15:11:40",
        "Principals:",
        "ubuntu",
        "Critical Options:",
        "force-command /usr/bin/uptime",
        "source-address 10.0.0.0/8,127.0.0.1",
        "Extensions:",
        "permit-agent-forwarding",
        "permit-pty",
    ];
    assert_eq!(&fields[1..], expected, "{listing}");

    // Defaults: no critical options, only a pty.
    let plain = CertRequest::new(key.public_key().clone(), "deploy", "bob", "s-43");
    std::fs::write(
        &cert_file,
        ca.sign(&plain).unwrap().certificate.to_openssh().unwrap(),
    )
    .unwrap();
    let output = run(&keygen, &["-L", "-f", cert_file.to_str().unwrap()]);
    let listing = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<&str> = listing.lines().map(str::trim).collect();
    assert!(
        fields.ends_with(&[
            "Principals:",
            "deploy",
            "Critical Options: (none)",
            "Extensions:",
            "permit-pty"
        ]),
        "{listing}"
    );
}

#[test]
fn ssh_keygen_reads_the_ca_key_file() {
    let Some([keygen]) = tool_or_skip("ssh_keygen_reads_the_ca_key_file", [Tool::Keygen]) else {
        return;
    };
    let temp = TempDir::new("keygen-y").unwrap();
    let path = temp.path().join("ca_key");
    let ca = UserCa::load_or_generate(&path).unwrap();
    let output = run(&keygen, &["-y", "-f", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        ca.public_key_line()
    );

    std::fs::write(
        temp.path().join("ca.pub"),
        format!("{}\n", ca.public_key_line()),
    )
    .unwrap();
    let pub_path = temp.path().join("ca.pub");
    let output = run(&keygen, &["-l", "-f", pub_path.to_str().unwrap()]);
    let line = String::from_utf8(output.stdout).unwrap();
    assert!(
        line.starts_with(&format!("256 {} zt user CA (ED25519)", ca.fingerprint())),
        "{line}"
    );
}

#[test]
fn loads_ed25519_keys_from_ssh_keygen_and_refuses_others() {
    let Some([keygen]) = tool_or_skip("loads_keys_from_ssh_keygen", [Tool::Keygen]) else {
        return;
    };
    let temp = TempDir::new("keygen-t").unwrap();
    let make = |name: &str, args: &[&str]| {
        let path = temp.path().join(name);
        let mut all = vec![
            "-q",
            "-C",
            "made by ssh-keygen",
            "-f",
            path.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let output = run(&keygen, &all);
        assert!(output.status.success(), "{}", describe(&output));
        path
    };

    let ed25519 = make("ed25519", &["-t", "ed25519", "-N", ""]);
    let ca = UserCa::load(&ed25519).unwrap();
    let output = run(&keygen, &["-l", "-f", ed25519.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&ca.fingerprint().to_string()),
        "{}",
        describe(&output)
    );
    assert!(ca.public_key_line().ends_with(" made by ssh-keygen"));

    let ecdsa = make("ecdsa", &["-t", "ecdsa", "-N", ""]);
    let error = UserCa::load(&ecdsa).unwrap_err();
    assert!(matches!(error, CaError::UnsupportedAlgorithm(_)), "{error}");
    assert!(error.to_string().contains("Ed25519 keys only"), "{error}");

    let encrypted = make("encrypted", &["-t", "ed25519", "-N", "correct horse"]);
    let error = UserCa::load(&encrypted).unwrap_err();
    assert!(matches!(error, CaError::EncryptedKey { .. }), "{error}");
    assert!(error.to_string().contains("is encrypted"), "{error}");
}

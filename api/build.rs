//! The playground's scripts and styles, taken from the npm registry when the binary is built:
//! pinned versions, each tarball checked against its SHA-256, the files unpacked into `OUT_DIR`
//! and compiled into the binary (`src/playground.rs`). Nothing is fetched at run time, and no copy
//! of them is committed.
//!
//! Offline builds: `PLAYGROUND_TARBALLS=DIR` reads `DIR/<name>-<version>.tgz` instead of the
//! registry (the same checks apply).

use std::{
    env, fs,
    io::Read,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

/// An npm package: its name, version, the SHA-256 of its tarball, and the files taken from it.
struct Package {
    name: &'static str,
    version: &'static str,
    sha256: &'static str,
    files: &'static [&'static str],
}

/// GraphiQL 4 is the last line with script-tag builds; it runs on React 18.
const PACKAGES: [Package; 3] = [
    Package {
        name: "react",
        version: "18.3.1",
        sha256: "8d9bed01a672e7eaf387942d781ad47c6a43089a30a0306060f9fd5ac7870347",
        files: &["umd/react.production.min.js"],
    },
    Package {
        name: "react-dom",
        version: "18.3.1",
        sha256: "031d4427a99f2f3f6cac18bbbf308594a67e4f47d10f4896fdec446505b040e0",
        files: &["umd/react-dom.production.min.js"],
    },
    Package {
        name: "graphiql",
        version: "4.1.2",
        sha256: "6aa9cb6d82e656d38b72991264f41545889881e8dc23059199be3b94fff2ad05",
        files: &["graphiql.min.js", "graphiql.min.css", "LICENSE"],
    },
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PLAYGROUND_TARBALLS");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("playground");
    for package in &PACKAGES {
        if let Err(message) = unpack(package, &out) {
            panic!(
                "the playground's {}@{}: {message}",
                package.name, package.version
            );
        }
    }
}

/// The files of `package` under `out`, unpacked from its checked tarball unless already there.
fn unpack(package: &Package, out: &Path) -> Result<(), String> {
    let dir = out.join(format!("{}-{}", package.name, package.version));
    let done = dir.join(".sha256");
    if fs::read_to_string(&done).is_ok_and(|sha| sha == package.sha256) {
        return Ok(());
    }
    let tarball = tarball(package)?;
    let sha256: String = Sha256::digest(&tarball)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if sha256 != package.sha256 {
        return Err(format!(
            "the tarball's SHA-256 is {sha256}, not the pinned {}",
            package.sha256
        ));
    }
    fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball.as_slice()));
    let mut found = 0;
    for entry in archive.entries().map_err(|err| err.to_string())? {
        let mut entry = entry.map_err(|err| err.to_string())?;
        let path = entry.path().map_err(|err| err.to_string())?.into_owned();
        let Some(file) = package
            .files
            .iter()
            .find(|file| path == Path::new("package").join(file))
        else {
            continue;
        };
        let name = Path::new(file).file_name().expect("a file name");
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|err| err.to_string())?;
        fs::write(dir.join(name), bytes).map_err(|err| err.to_string())?;
        found += 1;
    }
    if found != package.files.len() {
        return Err(format!("the tarball lacks some of {:?}", package.files));
    }
    fs::write(done, package.sha256).map_err(|err| err.to_string())
}

/// The package's tarball: from `PLAYGROUND_TARBALLS` when set, else from the npm registry.
fn tarball(package: &Package) -> Result<Vec<u8>, String> {
    let file = format!("{}-{}.tgz", package.name, package.version);
    if let Ok(dir) = env::var("PLAYGROUND_TARBALLS") {
        let path = Path::new(&dir).join(&file);
        return fs::read(&path).map_err(|err| format!("reading {}: {err}", path.display()));
    }
    let url = format!("https://registry.npmjs.org/{}/-/{file}", package.name);
    // The system's certificates, so that a proxy the machine trusts is trusted here too.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let mut response = agent.get(&url).call().map_err(|err| {
        format!("fetching {url}: {err} (set PLAYGROUND_TARBALLS to build offline)")
    })?;
    response
        .body_mut()
        .with_config()
        .limit(32 * 1024 * 1024)
        .read_to_vec()
        .map_err(|err| format!("reading {url}: {err}"))
}

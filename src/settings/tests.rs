use super::*;
use std::path::PathBuf;

const TOKEN_VALUE: &str = "xYz9QwErTy-secret-TOKEN_42";
const MACHINE_ID: &str = "9f3c2a81d5e64b7a8c0e1f2d3b4a5c6d7e8f9a0b";

/// A Preferences.xml as Plex writes it: declaration, then one self-closing element with the attributes in the
/// order Plex tends to use. `overrides` replace or add attributes; `None` removes one.
fn prefs_with(overrides: &[(&str, Option<&str>)]) -> String {
    let mut attrs: Vec<(String, String)> = [
        ("OldestPreviousVersion", "1.32.5.7349-8f4248874"),
        ("MachineIdentifier", MACHINE_ID),
        (
            "ProcessedMachineIdentifier",
            "1c0d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
        ),
        (
            "AnonymousMachineIdentifier",
            "4e2f8a6b-1c3d-4e5f-9a7b-2c4d6e8f0a1b",
        ),
        ("MetricsEpoch", "1"),
        ("AcceptedEULA", "1"),
        ("FriendlyName", "living-room-nas"),
        ("PublishServerOnPlexOnlineKey", "1"),
        ("PlexOnlineHome", "1"),
        ("PlexOnlineToken", TOKEN_VALUE),
        ("PlexOnlineUsername", "owner-name"),
        ("PlexOnlineMail", "owner@example.org"),
        ("CertificateUUID", "b7c1e2d3f4a5968778695a4b3c2d1e0f"),
        ("CertificateVersion", "3"),
        ("PubSubServer", "203.0.113.40"),
        ("PubSubServerRegion", "fra"),
        ("PubSubServerPing", "27"),
        ("LastAutomaticMappedPort", "0"),
        ("ManualPortMappingMode", "1"),
        ("ManualPortMappingPort", "32400"),
        ("DlnaEnabled", "0"),
        ("GdmEnabled", "1"),
        ("collectUsageData", "0"),
        ("sendCrashReports", "1"),
        ("RelayEnabled", "1"),
        ("ButlerUpdateChannel", "16"),
        ("CinemaTrailersFromLibrary", "0"),
        ("CinemaTrailersFromTheater", "1"),
        ("CinemaTrailersFromBluRay", "0"),
        ("TranscoderTempDirectory", "/transcode"),
        (
            "customConnections",
            "https://media.example.org:443,http://192.168.1.10:32400",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (key, value) in overrides {
        attrs.retain(|(k, _)| k != key);
        if let Some(v) = value {
            attrs.push((key.to_string(), v.to_string()));
        }
    }
    let body: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Preferences {}/>\n",
        body.join(" ")
    )
}

fn prefs() -> String {
    prefs_with(&[])
}

fn plex(text: &str) -> Result<Settings, SettingsError> {
    parse_plex_xml("Preferences.xml", text.as_bytes())
}

fn err_text(r: Result<Settings, SettingsError>) -> String {
    match r {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn opted_out_server_keeps_only_the_listed_settings() {
    let s = plex(&prefs()).unwrap();
    assert_eq!(s.path, "Preferences.xml");
    assert_eq!(s.format, "Preferences.xml");
    assert!(s.signed_in);
    assert_eq!(s.get("collectUsageData"), Some("0"));
    assert_eq!(s.flag("collectUsageData"), Some(false));
    let keys: Vec<&str> = s.values.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "ButlerUpdateChannel",
            "CinemaTrailersFromBluRay",
            "CinemaTrailersFromLibrary",
            "CinemaTrailersFromTheater",
            "DlnaEnabled",
            "GdmEnabled",
            "ManualPortMappingMode",
            "ManualPortMappingPort",
            "PubSubServer",
            "PubSubServerRegion",
            "PublishServerOnPlexOnlineKey",
            "RelayEnabled",
            "collectUsageData",
            "customConnections",
            "sendCrashReports",
        ]
    );
    assert_eq!(
        s.get("customConnections"),
        Some("https://media.example.org:443,http://192.168.1.10:32400")
    );
    assert_eq!(s.get("PubSubServer"), Some("203.0.113.40"));
}

#[test]
fn opted_in_relay_off_crash_reports_off() {
    let s = plex(&prefs_with(&[
        ("collectUsageData", Some("1")),
        ("RelayEnabled", Some("0")),
        ("sendCrashReports", Some("0")),
        ("plexMetricsUrl", Some("https://metrics.example.net")),
        ("WebHooksEnabled", Some("1")),
        ("ButlerTaskUpdateServer", Some("0")),
        ("customCertificateDomain", Some("media.example.org")),
    ]))
    .unwrap();
    assert_eq!(s.flag("collectUsageData"), Some(true));
    assert_eq!(s.flag("RelayEnabled"), Some(false));
    assert_eq!(s.flag("sendCrashReports"), Some(false));
    assert_eq!(s.flag("WebHooksEnabled"), Some(true));
    assert_eq!(s.flag("ButlerTaskUpdateServer"), Some(false));
    assert_eq!(s.get("plexMetricsUrl"), Some("https://metrics.example.net"));
    assert_eq!(s.get("customCertificateDomain"), Some("media.example.org"));
}

#[test]
fn absent_settings_are_absent_not_defaulted() {
    // Newer servers may not write collectUsageData at all.
    let s = plex(&prefs_with(&[("collectUsageData", None)])).unwrap();
    assert_eq!(s.get("collectUsageData"), None);
    assert_eq!(s.flag("collectUsageData"), None);
}

#[test]
fn signed_out_without_token_or_with_an_empty_one() {
    for overrides in [
        [("PlexOnlineToken", None)],
        [("PlexOnlineToken", Some(""))],
        [("PlexOnlineToken", Some("   "))],
    ] {
        let s = plex(&prefs_with(&overrides)).unwrap();
        assert!(!s.signed_in, "{overrides:?}");
        assert_eq!(s.get("RelayEnabled"), Some("1"));
    }
}

#[test]
fn utf8_bom_is_accepted() {
    let text = format!("\u{FEFF}{}", prefs_with(&[("RelayEnabled", Some("0"))]));
    let s = plex(&text).unwrap();
    assert_eq!(s.flag("RelayEnabled"), Some(false));
    assert!(s.signed_in);
}

#[test]
fn values_are_unescaped_and_control_characters_kept_escaped() {
    let s = plex(&prefs_with(&[
        (
            "customConnections",
            Some("https://a.example/?x=1&amp;y=&quot;2&quot;,http://b.example"),
        ),
        ("PubSubServerRegion", Some("fra&#27;[2J&#10;x\u{202E}")),
    ]))
    .unwrap();
    assert_eq!(
        s.get("customConnections"),
        Some("https://a.example/?x=1&y=\"2\",http://b.example")
    );
    assert_eq!(
        s.get("PubSubServerRegion"),
        Some("fra\\u{1b}[2J\\u{a}x\\u{202e}")
    );
    let listing = describe(&s);
    assert!(!listing.contains('\u{1b}'));
    assert!(!listing.contains('\u{202E}'));
}

#[test]
fn element_with_explicit_end_tag_and_indentation_is_read() {
    let text = "<?xml version=\"1.0\"?>\r\n<!-- hand edited -->\r\n<Preferences\r\n  RelayEnabled=\"0\"\r\n  \
                PlexOnlineToken=\"abc\">\r\n</Preferences>\r\n";
    let s = plex(text).unwrap();
    assert_eq!(s.get("RelayEnabled"), Some("0"));
    assert!(s.signed_in);
}

#[test]
fn cinema_trailer_names_must_be_plain() {
    assert!(plex_xml::is_kept("CinemaTrailersFromTheater"));
    assert!(!plex_xml::is_kept("CinemaTrailersFrom"));
    assert!(!plex_xml::is_kept("CinemaTrailersFrom.x"));
    assert!(!plex_xml::is_kept("relayenabled"));
    assert!(!plex_xml::is_kept("PlexOnlineToken"));
}

#[test]
fn unclosed_quote_is_malformed_with_position() {
    // `RelayEnabled="0 GdmEnabled="1"/>`: the third quote never closes.
    let text = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Preferences MachineIdentifier=\"abc\" \
                RelayEnabled=\"0 GdmEnabled=\"1\"/>\n";
    assert_eq!(
        err_text(plex(text)),
        "Preferences.xml:2:1: malformed Preferences.xml: attribute value not closed: `\"` not found \
         before end of input"
    );
}

#[test]
fn attribute_without_quotes_points_at_it() {
    let text = "<Preferences RelayEnabled=\"0\" GdmEnabled=1/>";
    assert_eq!(
        err_text(plex(text)),
        "Preferences.xml:1:42: malformed Preferences.xml: an attribute value without quotes"
    );
}

#[test]
fn duplicated_attribute_is_malformed() {
    let text = "<Preferences RelayEnabled=\"0\" RelayEnabled=\"1\"/>";
    assert_eq!(
        err_text(plex(text)),
        "Preferences.xml:1:31: malformed Preferences.xml: the same attribute twice"
    );
}

#[test]
fn unknown_entity_in_a_kept_value_is_malformed() {
    let text = "<Preferences customConnections=\"http://a&nbsp;b\"/>";
    let msg = err_text(plex(text));
    assert!(
        msg.starts_with("Preferences.xml:1:1: malformed Preferences.xml: in customConnections: an unknown entity"),
        "{msg}"
    );
}

#[test]
fn wrong_root_element_is_not_a_plex_file() {
    let text = "<?xml version=\"1.0\"?><ServerConfiguration><EnableUPnP>true</EnableUPnP></ServerConfiguration>";
    assert_eq!(
        err_text(plex(text)),
        "Preferences.xml: not a Plex Media Server settings file: the root element is <ServerConfiguration> \
         (a Jellyfin or Emby system.xml); expected a Plex Preferences.xml (one <Preferences .../> element) or \
         the macOS plist"
    );
    let other = err_text(plex("<Settings RelayEnabled=\"1\"/>"));
    assert!(other.contains("the root element is <Settings>;"), "{other}");
}

#[test]
fn binary_garbage_is_malformed() {
    let mut bytes = b"\x00\x01\x02PK\x03\x04".to_vec();
    bytes.extend((0u8..=255).rev());
    let err = parse_plex_xml("Preferences.xml", &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Preferences.xml:1:8: malformed Preferences.xml: not UTF-8 text (binary data, or another encoding); \
         expected an XML document"
    );
    // Garbage that happens to be UTF-8.
    assert_eq!(
        err_text(plex("\u{1}\u{2}garbage\n")),
        "Preferences.xml:1:1: malformed Preferences.xml: text outside the <Preferences> element; expected one \
         <Preferences .../> element"
    );
}

#[test]
fn empty_file_is_an_error() {
    let expected = "Preferences.xml: empty file; expected a Plex Preferences.xml (one <Preferences .../> element) \
                    or the macOS plist";
    for text in ["", "\u{FEFF}", " \n\t\r\n"] {
        assert_eq!(err_text(plex(text)), expected, "{text:?}");
    }
    assert_eq!(
        err_text(plex("<?xml version=\"1.0\"?>\n")),
        "Preferences.xml:2:1: malformed Preferences.xml: no element; expected one <Preferences .../> element"
    );
}

#[test]
fn structural_faults_are_malformed() {
    assert_eq!(
        err_text(plex("<Preferences RelayEnabled=\"1\">\n<Child/>\n")),
        "Preferences.xml:3:1: malformed Preferences.xml: the file ends inside <Preferences>; expected \
         </Preferences>"
    );
    assert_eq!(
        err_text(plex("<Preferences RelayEnabled=\"1\"/>\n<Preferences/>\n")),
        "Preferences.xml:2:1: malformed Preferences.xml: a second element after </Preferences>; expected the \
         end of the file"
    );
    assert_eq!(
        err_text(plex("<Preferences RelayEnabled=\"1\"")),
        "Preferences.xml:1:1: malformed Preferences.xml: tag not closed: `>` not found before end of input"
    );
    let mismatched = err_text(plex("<Preferences>\n</Prefs>"));
    assert!(
        mismatched.starts_with("Preferences.xml:2:1: malformed Preferences.xml: "),
        "{mismatched}"
    );
}

#[test]
fn five_mib_file_is_refused() {
    let mut text = prefs();
    text.insert_str(text.len() - 4, &" ".repeat(5 * 1024 * 1024));
    assert_eq!(
        err_text(plex(&text)),
        "Preferences.xml: larger than 4194304 bytes, too big for a settings file"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Preferences.xml");
    std::fs::write(&path, &text).unwrap();
    let msg = err_text(read(&path, ServerKind::Plex));
    assert!(
        msg.ends_with("Preferences.xml: larger than 4194304 bytes, too big for a settings file"),
        "{msg}"
    );
}

#[test]
fn read_reports_missing_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.xml");
    assert_eq!(
        err_text(read(&missing, ServerKind::Plex)),
        format!(
            "{}: no such file; pass the server's settings file with --prefs PATH",
            missing.display()
        )
    );
    let msg = err_text(read(dir.path(), ServerKind::Jellyfin));
    assert!(msg.contains(": cannot read: "), "{msg}");

    let locked = dir.path().join("Preferences.xml");
    std::fs::write(&locked, prefs()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads through the mode bits; the message is only checked when the mode is honoured.
    if std::fs::read(&locked).is_err() {
        assert_eq!(
            err_text(read(&locked, ServerKind::Plex)),
            format!(
                "{}: permission denied; run with sudo, or make the file readable by this user",
                locked.display()
            )
        );
    }
}

#[test]
fn read_detects_the_format_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whatever.conf");
    std::fs::write(&path, prefs_with(&[("RelayEnabled", Some("0"))])).unwrap();
    let s = read(&path, ServerKind::Plex).unwrap();
    assert_eq!(s.format, "Preferences.xml");
    assert_eq!(s.path, path.display().to_string());
    assert_eq!(s.flag("RelayEnabled"), Some(false));

    let plist_path = dir.path().join("prefs.bin");
    std::fs::write(&plist_path, plist_bytes(true, true)).unwrap();
    let s = read(&plist_path, ServerKind::Plex).unwrap();
    assert_eq!(s.format, "plist");
    assert!(s.signed_in);
}

/// A macOS-style dictionary of Plex settings, as binary or XML plist.
fn plist_bytes(binary: bool, signed_in: bool) -> Vec<u8> {
    let mut d = ::plist::Dictionary::new();
    d.insert("MachineIdentifier".into(), MACHINE_ID.into());
    d.insert(
        "CertificateUUID".into(),
        "b7c1e2d3f4a5968778695a4b3c2d1e0f".into(),
    );
    if signed_in {
        d.insert("PlexOnlineToken".into(), TOKEN_VALUE.into());
    }
    d.insert("collectUsageData".into(), ::plist::Value::Boolean(false));
    d.insert("RelayEnabled".into(), "0".into());
    d.insert("sendCrashReports".into(), ::plist::Value::Integer(1.into()));
    d.insert(
        "ManualPortMappingPort".into(),
        ::plist::Value::Integer(32400.into()),
    );
    d.insert(
        "CinemaTrailersFromTheater".into(),
        ::plist::Value::Boolean(true),
    );
    d.insert("PubSubServerRegion".into(), "sjc".into());
    d.insert(
        "customConnections".into(),
        ::plist::Value::Array(vec!["https://x.example".into()]),
    );
    d.insert("FriendlyName".into(), "mac-mini".into());
    let value = ::plist::Value::Dictionary(d);
    let mut out = Vec::new();
    if binary {
        value.to_writer_binary(&mut out).unwrap();
    } else {
        value.to_writer_xml(&mut out).unwrap();
    }
    out
}

#[test]
fn plist_binary_and_xml_read_the_same() {
    for binary in [true, false] {
        let bytes = plist_bytes(binary, true);
        assert_eq!(bytes.starts_with(b"bplist00"), binary);
        let s = parse_bytes(
            "com.plexapp.plexmediaserver.plist",
            &bytes,
            &ServerKind::Plex,
        )
        .unwrap();
        assert_eq!(s.format, "plist");
        assert!(s.signed_in);
        let pairs: Vec<(&str, &str)> = s
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // The array-valued customConnections is not a scalar and is skipped.
        assert_eq!(
            pairs,
            [
                ("CinemaTrailersFromTheater", "1"),
                ("ManualPortMappingPort", "32400"),
                ("PubSubServerRegion", "sjc"),
                ("RelayEnabled", "0"),
                ("collectUsageData", "0"),
                ("sendCrashReports", "1"),
            ],
            "binary={binary}"
        );
        let out = parse_bytes("p", &plist_bytes(binary, false), &ServerKind::Plex).unwrap();
        assert!(!out.signed_in);
        assert_eq!(parse_plist("p", &bytes).unwrap(), s.clone().with_path("p"));
    }
}

impl Settings {
    fn with_path(mut self, path: &str) -> Settings {
        self.path = path.to_string();
        self
    }
}

#[test]
fn plist_faults() {
    let array = {
        let mut out = Vec::new();
        ::plist::Value::Array(vec!["a".into()])
            .to_writer_binary(&mut out)
            .unwrap();
        out
    };
    assert_eq!(
        err_text(parse_plist("p.plist", &array)),
        "p.plist: not a Plex Media Server settings file: the property list's top level is not a dictionary; \
         expected a Plex Preferences.xml (one <Preferences .../> element) or the macOS plist"
    );
    let mut cut = plist_bytes(true, true);
    cut.truncate(40);
    let msg = err_text(parse_bytes("p.plist", &cut, &ServerKind::Plex));
    assert!(msg.starts_with("p.plist: malformed plist: "), "{msg}");
    assert!(
        msg.ends_with("; expected a property list holding a dictionary"),
        "{msg}"
    );
    assert!(!msg.contains(TOKEN_VALUE));
    assert!(matches!(
        parse_plist("p.plist", b"  \n"),
        Err(SettingsError::Empty { .. })
    ));
    // A plist handed to Jellyfin is named as such.
    let msg = err_text(parse_bytes(
        "x",
        &plist_bytes(false, true),
        &ServerKind::Jellyfin,
    ));
    assert_eq!(
        msg,
        "x: not a Jellyfin settings file: a property list (the macOS Plex format); expected a Jellyfin \
         system.xml (<ServerConfiguration>) or network.xml (<NetworkConfiguration>)"
    );
}

const JELLYFIN_SYSTEM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<ServerConfiguration xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <LogFileRetentionDays>3</LogFileRetentionDays>
  <IsStartupWizardCompleted>true</IsStartupWizardCompleted>
  <CachePath>/var/cache/jellyfin</CachePath>
  <PreviousVersion>10.9.11</PreviousVersion>
  <PreviousVersionStr>10.9.11</PreviousVersionStr>
  <EnableMetrics>false</EnableMetrics>
  <EnableNormalizedItemByNameIds>true</EnableNormalizedItemByNameIds>
  <IsPortAuthorized>true</IsPortAuthorized>
  <QuickConnectAvailable>true</QuickConnectAvailable>
  <EnableCaseSensitiveItemIds>true</EnableCaseSensitiveItemIds>
  <DisableLiveTvChannelUserDataName>true</DisableLiveTvChannelUserDataName>
  <MetadataPath />
  <PreferredMetadataLanguage>en</PreferredMetadataLanguage>
  <MetadataCountryCode>US</MetadataCountryCode>
  <SortReplaceCharacters>
    <string>.</string>
    <string>+</string>
  </SortReplaceCharacters>
  <ServerName>den</ServerName>
  <UICulture>en-US</UICulture>
  <EnableFolderView>false</EnableFolderView>
  <PluginRepositories>
    <RepositoryInfo>
      <Name>Jellyfin Stable</Name>
      <Url>https://repo.jellyfin.org/files/plugin/manifest.json</Url>
      <Enabled>true</Enabled>
    </RepositoryInfo>
    <RepositoryInfo>
      <Name>Third party</Name>
      <Url>https://plugins.example.net/manifest.json?a=1&amp;b=2</Url>
      <Enabled>false</Enabled>
    </RepositoryInfo>
    <RepositoryInfo>
      <Name>No Enabled element</Name>
      <Url>https://other.example.org/manifest.json</Url>
    </RepositoryInfo>
  </PluginRepositories>
  <EnableExternalContentInSuggestions>true</EnableExternalContentInSuggestions>
</ServerConfiguration>
"#;

#[test]
fn jellyfin_system_xml() {
    let s = parse_system_xml(
        "system.xml",
        JELLYFIN_SYSTEM.as_bytes(),
        ServerKind::Jellyfin,
    )
    .unwrap();
    assert_eq!(s.format, "system.xml");
    assert!(!s.signed_in);
    let pairs: Vec<(&str, &str)> = s
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("EnableMetrics", "false"),
            (
                "PluginRepositories",
                "https://repo.jellyfin.org/files/plugin/manifest.json https://other.example.org/manifest.json"
            ),
            (
                "PluginRepositoriesDisabled",
                "https://plugins.example.net/manifest.json?a=1&b=2"
            ),
            ("QuickConnectAvailable", "true"),
        ]
    );
    assert_eq!(s.flag("EnableMetrics"), Some(false));
    assert_eq!(s.flag("QuickConnectAvailable"), Some(true));
}

#[test]
fn jellyfin_network_xml_and_empty_repository_list() {
    let network = r#"<?xml version="1.0" encoding="utf-8"?>
<NetworkConfiguration xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BaseUrl />
  <EnableHttps>false</EnableHttps>
  <CertificatePath />
  <CertificatePassword>hunter2-cert-pass</CertificatePassword>
  <InternalHttpPort>8096</InternalHttpPort>
  <PublicHttpsPort>8920</PublicHttpsPort>
  <AutoDiscovery>true</AutoDiscovery>
  <EnableUPnP>false</EnableUPnP>
  <EnableRemoteAccess>true</EnableRemoteAccess>
  <LocalNetworkSubnets>
    <string>192.168.1.0/24</string>
  </LocalNetworkSubnets>
</NetworkConfiguration>
"#;
    let s = parse_system_xml("network.xml", network.as_bytes(), ServerKind::Jellyfin).unwrap();
    assert_eq!(s.format, "network.xml");
    assert_eq!(s.get("EnableUPnP"), Some("false"));
    assert_eq!(s.get("EnableRemoteAccess"), Some("true"));
    assert_eq!(s.get("AutoDiscovery"), Some("true"));
    assert_eq!(s.get("PublicHttpsPort"), Some("8920"));
    assert_eq!(s.values.len(), 4);
    assert!(!format!("{s:?}").contains("hunter2"));

    let s = parse_system_xml(
        "system.xml",
        b"<ServerConfiguration><PluginRepositories /></ServerConfiguration>",
        ServerKind::Jellyfin,
    )
    .unwrap();
    assert_eq!(s.get("PluginRepositories"), Some(""));
}

#[test]
fn system_xml_booleans_read_as_the_server_reads_them() {
    let text = "<ServerConfiguration><EnableRemoteAccess> 1 </EnableRemoteAccess><EnableUPnP>0</EnableUPnP>\
                <AutoDiscovery>True</AutoDiscovery><PublicHttpPort>1</PublicHttpPort>\
                <EnableAnonymousUsageReporting>false</EnableAnonymousUsageReporting></ServerConfiguration>";
    let s = parse_system_xml("system.xml", text.as_bytes(), ServerKind::Emby).unwrap();
    assert_eq!(s.get("EnableRemoteAccess"), Some("true"));
    assert_eq!(s.get("EnableUPnP"), Some("false"));
    // .NET reads only true/false/1/0: anything else is kept as written, and matches no condition
    assert_eq!(s.get("AutoDiscovery"), Some("True"));
    // a number stays a number
    assert_eq!(s.get("PublicHttpPort"), Some("1"));
    assert_eq!(s.get("EnableAnonymousUsageReporting"), Some("false"));
}

const JELLYFIN_NETWORK: &str = "<NetworkConfiguration><EnableRemoteAccess>false</EnableRemoteAccess>\
    <AutoDiscovery>false</AutoDiscovery><PublicHttpPort>8096</PublicHttpPort>\
    <CertificatePassword>hunter2</CertificatePassword></NetworkConfiguration>";

const JELLYFIN_OLD_SYSTEM: &str = "<ServerConfiguration><EnableRemoteAccess>true</EnableRemoteAccess>\
    <EnableUPnP>true</EnableUPnP><QuickConnectAvailable>true</QuickConnectAvailable></ServerConfiguration>";

#[test]
fn read_merged_completes_system_xml_with_network_xml() {
    let dir = tempfile::tempdir().unwrap();
    let system = dir.path().join("system.xml");
    let network = dir.path().join("network.xml");
    std::fs::write(&system, JELLYFIN_OLD_SYSTEM).unwrap();
    std::fs::write(&network, JELLYFIN_NETWORK).unwrap();
    let l = read_merged(&system, ServerKind::Jellyfin).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let s = l.settings;
    assert_eq!(s.path, system.display().to_string());
    assert_eq!(s.format, "system.xml + network.xml");
    // network.xml wins where both hold a setting; the rest of each is kept
    assert_eq!(s.get("EnableRemoteAccess"), Some("false"));
    assert_eq!(s.get("EnableUPnP"), Some("true"));
    assert_eq!(s.get("AutoDiscovery"), Some("false"));
    assert_eq!(s.get("QuickConnectAvailable"), Some("true"));
    assert!(!format!("{s:?}").contains("hunter2"));
    assert_eq!(
        s.files(),
        [
            (system.display().to_string(), "system.xml".to_string()),
            (network.display().to_string(), "network.xml".to_string()),
        ]
    );
    assert_eq!(
        s.label(),
        format!("{} and {}", system.display(), network.display())
    );
    assert!(
        describe(&s).starts_with(&format!(
            "settings: {} (system.xml) and {} (network.xml)\nsigned in: not recorded in system.xml + network.xml\n",
            system.display(),
            network.display()
        )),
        "{}",
        describe(&s)
    );

    // `read` merges the same way
    assert_eq!(read(&system, ServerKind::Jellyfin).unwrap(), s);
    assert_eq!(
        read_one(&system, ServerKind::Jellyfin).unwrap().format,
        "system.xml"
    );

    // named the other way round: the same values, network.xml still winning
    let l = read_merged(&network, ServerKind::Jellyfin).unwrap();
    assert_eq!(l.settings.format, "network.xml + system.xml");
    assert_eq!(l.settings.values, s.values);
    assert_eq!(l.settings.files()[1].0, system.display().to_string());

    // Emby has no network.xml: the file beside is not read
    let l = read_merged(&system, ServerKind::Emby).unwrap();
    assert_eq!(l.settings.format, "system.xml");
    assert_eq!(l.settings.get("EnableRemoteAccess"), Some("true"));
}

#[test]
fn read_merged_says_what_it_could_not_read_beside() {
    let dir = tempfile::tempdir().unwrap();
    let system = dir.path().join("system.xml");
    std::fs::write(&system, JELLYFIN_OLD_SYSTEM).unwrap();
    // none beside: no warning, and only the one file
    let l = read_merged(&system, ServerKind::Jellyfin).unwrap();
    assert!(l.warnings.is_empty());
    assert_eq!(read(&system, ServerKind::Jellyfin).unwrap(), l.settings);
    assert_eq!(l.settings.files().len(), 1);
    assert_eq!(l.settings.label(), system.display().to_string());

    let network = dir.path().join("network.xml");
    for (bytes, expect) in [
        (
            &b"<NetworkConfiguration><AutoDiscovery>"[..],
            "malformed network.xml",
        ),
        (&b""[..], "empty file"),
        (&b"\x00\xff\xfe garbage"[..], "malformed network.xml"),
        (
            &b"<Preferences/>"[..],
            "not a Jellyfin settings file: the root element is <Preferences>",
        ),
        (
            JELLYFIN_OLD_SYSTEM.as_bytes(),
            "holds a system.xml, where a network.xml belongs",
        ),
    ] {
        std::fs::write(&network, bytes).unwrap();
        let l = read_merged(&system, ServerKind::Jellyfin).unwrap();
        assert_eq!(l.settings.format, "system.xml");
        assert_eq!(l.settings.get("EnableRemoteAccess"), Some("true"));
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        // `read` (what `watch` re-reads with) makes it an error naming the file beside
        let e = err_text(read(&system, ServerKind::Jellyfin));
        assert!(e.starts_with(&network.display().to_string()), "{e}");
        let w = &l.warnings[0];
        assert!(
            w.starts_with(&network.display().to_string())
                && w.contains(expect)
                && w.ends_with(
                    "take Jellyfin's defaults, as Jellyfin does with a settings file it cannot read"
                ),
            "{w}"
        );
    }
    // a directory where the file should be
    std::fs::remove_file(&network).unwrap();
    std::fs::create_dir(&network).unwrap();
    let l = read_merged(&system, ServerKind::Jellyfin).unwrap();
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0].contains("cannot read"), "{:?}", l.warnings);

    // the file named must be readable: that one is an error
    assert!(read_merged(&dir.path().join("nope.xml"), ServerKind::Jellyfin).is_err());
}

#[test]
fn emby_system_xml() {
    let text = "\u{FEFF}<?xml version=\"1.0\"?>\r\n<ServerConfiguration xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\r\n  \
                <EnableUPnP>true</EnableUPnP>\r\n  <PublicPort>8096</PublicPort>\r\n  <PublicHttpsPort>8920</PublicHttpsPort>\r\n  \
                <HttpServerPortNumber>8096</HttpServerPortNumber>\r\n  <WanDdns>media.example.org</WanDdns>\r\n  \
                <EnableAnonymousUsageReporting>false</EnableAnonymousUsageReporting>\r\n  \
                <CertificatePath>/etc/emby/cert.pfx</CertificatePath>\r\n  <EnableRemoteAccess>true</EnableRemoteAccess>\r\n\
                </ServerConfiguration>\r\n";
    let s = parse_system_xml(
        "/var/lib/emby/config/system.xml",
        text.as_bytes(),
        ServerKind::Emby,
    )
    .unwrap();
    let pairs: Vec<(&str, &str)> = s
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("EnableAnonymousUsageReporting", "false"),
            ("EnableRemoteAccess", "true"),
            ("EnableUPnP", "true"),
            ("PublicHttpsPort", "8920"),
            ("PublicPort", "8096"),
            ("WanDdns", "media.example.org"),
        ]
    );
    assert_eq!(
        describe(&s),
        "settings: /var/lib/emby/config/system.xml (system.xml)\n\
         signed in: not recorded in system.xml\n\
         \x20 EnableAnonymousUsageReporting = false\n\
         \x20 EnableRemoteAccess            = true\n\
         \x20 EnableUPnP                    = true\n\
         \x20 PublicHttpsPort               = 8920\n\
         \x20 PublicPort                    = 8096\n\
         \x20 WanDdns                       = media.example.org\n"
    );
}

#[test]
fn system_xml_values_are_unescaped_and_escaped_for_output() {
    let text = "<ServerConfiguration><WanDdns>a&amp;b&#x1b;]0;x<![CDATA[<c>]]></WanDdns><EnableUPnP/></ServerConfiguration>";
    let s = parse_system_xml("system.xml", text.as_bytes(), ServerKind::Jellyfin).unwrap();
    assert_eq!(s.get("WanDdns"), Some("a&b\\u{1b}]0;x<c>"));
    assert_eq!(s.get("EnableUPnP"), Some(""));
}

#[test]
fn system_xml_faults() {
    let jf = |t: &str| parse_system_xml("system.xml", t.as_bytes(), ServerKind::Jellyfin);
    assert_eq!(
        err_text(jf(&prefs())),
        "system.xml: not a Jellyfin settings file: the root element is <Preferences> (a Plex Preferences.xml); \
         expected a Jellyfin system.xml (<ServerConfiguration>) or network.xml (<NetworkConfiguration>)"
    );
    assert_eq!(
        err_text(parse_system_xml("s", b"<Config/>", ServerKind::Emby)),
        "s: not a Emby settings file: the root element is <Config>; expected an Emby system.xml \
         (<ServerConfiguration>)"
    );
    assert_eq!(
        err_text(jf(
            "<ServerConfiguration>\n  <EnableUPnP>true</EnableUPnP>\n"
        )),
        "system.xml:3:1: malformed system.xml: the file ends inside <ServerConfiguration>; expected \
         </ServerConfiguration>"
    );
    assert_eq!(
        err_text(jf(
            "<ServerConfiguration>\n  <EnableUPnP>true</EnableUpnp>\n</ServerConfiguration>"
        )),
        "system.xml:2:19: malformed system.xml: expected `</EnableUPnP>`, but `</EnableUpnp>` was found"
    );
    assert_eq!(
        err_text(jf(
            "<ServerConfiguration><WanDdns>a&bogus;</WanDdns></ServerConfiguration>"
        )),
        format!("system.xml:1:32: malformed system.xml: {}", ESCAPE_DETAIL)
    );
    assert_eq!(
        err_text(jf("")),
        "system.xml: empty file; expected a Jellyfin system.xml (<ServerConfiguration>) or network.xml \
         (<NetworkConfiguration>)"
    );
    assert_eq!(
        err_text(jf("<ServerConfiguration/><ServerConfiguration/>")),
        "system.xml:1:23: malformed system.xml: a second element after the root closed; expected the end of \
         the file"
    );
    assert!(matches!(
        jf("\u{0}\u{ff}"),
        Ok(_) | Err(SettingsError::Malformed { .. })
    ));
    let bin =
        parse_system_xml("system.xml", &[0xff, 0xfe, 0, 0], ServerKind::Jellyfin).unwrap_err();
    assert_eq!(
        bin.to_string(),
        "system.xml:1:1: malformed system.xml: not UTF-8 text (binary data, or another encoding); expected \
         an XML document"
    );
}

#[test]
fn the_token_never_leaves_the_parser() {
    let plex_text = prefs();
    assert!(plex_text.contains(TOKEN_VALUE));
    let from_xml = plex(&plex_text).unwrap();
    let from_plist = parse_plist("p", &plist_bytes(true, true)).unwrap();
    let from_xml_plist = parse_plist("p", &plist_bytes(false, true)).unwrap();
    for s in [&from_xml, &from_plist, &from_xml_plist] {
        assert!(s.signed_in);
        let debug = format!("{s:?}");
        let pretty = format!("{s:#?}");
        let json = serde_json::to_string(s).unwrap();
        let listing = describe(s);
        for shown in [&debug, &pretty, &json, &listing] {
            for secret in [
                TOKEN_VALUE,
                "PlexOnlineToken",
                MACHINE_ID,
                "owner@example.org",
                "b7c1e2d3f4a5",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
    }
    // Nor in the errors of files that hold it.
    let broken = [
        prefs().replace("RelayEnabled=\"1\"", "RelayEnabled=\"1"),
        prefs().replace("RelayEnabled=\"1\"", "RelayEnabled=1"),
        prefs().replace("PubSubServer=", "PlexOnlineToken="),
        prefs().replace("<Preferences", "<Prefs"),
        prefs().replace("/>", ">"),
        format!("{}<x/>", prefs()),
        prefs().replace("customConnections=\"", "customConnections=\"&zz;"),
    ];
    for text in &broken {
        let msg = err_text(plex(text));
        assert!(!msg.contains(TOKEN_VALUE), "{msg}");
        assert!(!msg.contains(MACHINE_ID), "{msg}");
    }
}

#[test]
fn describe_lists_where_from_sign_in_and_sorted_settings() {
    let s = plex(&prefs_with(&[
        ("CinemaTrailersFromTheater", None),
        ("CinemaTrailersFromBluRay", None),
        ("CinemaTrailersFromLibrary", None),
        ("ManualPortMappingMode", None),
        ("ManualPortMappingPort", None),
        ("customConnections", None),
        ("PubSubServer", None),
        ("PubSubServerRegion", None),
        ("DlnaEnabled", None),
        ("GdmEnabled", None),
        ("ButlerUpdateChannel", None),
    ]))
    .unwrap();
    assert_eq!(
        describe(&s),
        "settings: Preferences.xml (Preferences.xml)\n\
         signed in: yes\n\
         \x20 PublishServerOnPlexOnlineKey = 1\n\
         \x20 RelayEnabled                 = 1\n\
         \x20 collectUsageData             = 0\n\
         \x20 sendCrashReports             = 1\n"
    );
    let bare = plex("<Preferences FriendlyName=\"x\"/>").unwrap();
    assert_eq!(
        describe(&bare),
        "settings: Preferences.xml (Preferences.xml)\nsigned in: no\nnone of the settings telltale reads are set \
         (the server uses its defaults)\n"
    );
    let hand_built = Settings {
        path: "/tmp/\u{1b}[31mevil".to_string(),
        format: "plist".to_string(),
        values: [
            ("k\u{7}".to_string(), "\u{9b}v".to_string()),
            ("e".into(), String::new()),
        ]
        .into_iter()
        .collect(),
        signed_in: false,
    };
    let out = describe(&hand_built);
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(out.contains("  e  = \"\"\n"), "{out}");
}

#[test]
fn flag_reads_switches() {
    let mut s = plex("<Preferences RelayEnabled=\" TRUE \" GdmEnabled=\"0\" DlnaEnabled=\"yes\"/>")
        .unwrap();
    assert_eq!(s.flag("RelayEnabled"), Some(true));
    assert_eq!(s.flag("GdmEnabled"), Some(false));
    assert_eq!(s.flag("DlnaEnabled"), None);
    assert_eq!(s.flag("WebHooksEnabled"), None);
    s.values.insert("x".into(), "False".into());
    assert_eq!(s.flag("x"), Some(false));
}

#[test]
fn default_locations_follow_the_documented_order() {
    let plex = default_locations(ServerKind::Plex);
    let first: Vec<PathBuf> = plex.iter().take(3).cloned().collect();
    assert_eq!(
        first,
        [
            PathBuf::from(
                "/var/lib/plexmediaserver/Library/Application Support/Plex Media Server/Preferences.xml"
            ),
            PathBuf::from(
                "/var/snap/plexmediaserver/common/Library/Application Support/Plex Media Server/Preferences.xml"
            ),
            PathBuf::from("/config/Library/Application Support/Plex Media Server/Preferences.xml"),
        ]
    );
    if std::env::var_os("HOME").is_some_and(|h| !h.is_empty()) {
        let last = plex.last().unwrap();
        assert!(last.ends_with("Library/Preferences/com.plexapp.plexmediaserver.plist"));
    }
    assert_eq!(
        default_locations(ServerKind::Jellyfin),
        [
            PathBuf::from("/etc/jellyfin/system.xml"),
            PathBuf::from("/config/config/system.xml"),
            PathBuf::from("/var/lib/jellyfin/config/system.xml"),
            PathBuf::from("/config/system.xml"),
        ]
    );
    assert_eq!(
        default_locations(ServerKind::Emby),
        [
            PathBuf::from("/var/lib/emby/config/system.xml"),
            PathBuf::from("/config/config/system.xml"),
        ]
    );
}

#[test]
fn not_found_names_the_places_and_the_flag() {
    let e = SettingsError::NotFound {
        server: ServerKind::Emby.name().to_string(),
        looked: default_locations(ServerKind::Emby)
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    };
    assert_eq!(
        e.to_string(),
        "no Emby settings file found (looked in: /var/lib/emby/config/system.xml, /config/config/system.xml); \
         pass its path with --prefs PATH"
    );
    // On this machine: either a real file was found and read, or the error lists the places.
    match find_or_error(ServerKind::Emby) {
        Ok(l) => assert_eq!(l.settings.format, "system.xml"),
        Err(e) => assert!(e.to_string().contains("--prefs") || e.to_string().contains("sudo")),
    }
}

#[test]
fn line_and_column_count_characters() {
    assert_eq!(line_column(b"ab\ncd", 4, false), (2, 2));
    assert_eq!(line_column("é\nxé-".as_bytes(), 6, false), (2, 3));
    assert_eq!(line_column(b"abc", 1, true), (1, 3));
    assert_eq!(line_column(b"abc", 99, false), (1, 4));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        for kind in [ServerKind::Plex, ServerKind::Jellyfin, ServerKind::Emby] {
            let _ = parse_bytes("f", &bytes, &kind);
        }
        let _ = parse_plist("f", &bytes);
    }

    #[test]
    fn arbitrary_text_in_a_preferences_frame_never_panics(
        body in "[ -~\\n\\u{1b}\\u{202e}&;<>\"']{0,200}"
    ) {
        let _ = plex(&format!("<Preferences {body}/>"));
        let _ = parse_system_xml("s", format!("<ServerConfiguration><WanDdns>{body}</WanDdns></ServerConfiguration>").as_bytes(), ServerKind::Jellyfin);
    }
}

#[test]
fn xml_plist_with_a_bom_is_recognised() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(plist_bytes(false, false));
    let s = parse_bytes("p.plist", &bytes, &ServerKind::Plex).unwrap();
    assert_eq!(s.format, "plist");
    assert_eq!(s.get("RelayEnabled"), Some("0"));
    assert!(!s.signed_in);
}

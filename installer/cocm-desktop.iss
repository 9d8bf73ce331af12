; Inno Setup 6 script for CoCM Desktop (Windows 10/11, x64).
;
; Do not compile this file directly: `python installer\build.py --package` fills the @...@
; placeholders (the version comes from cocm_desktop.__version__, paths are absolute) into
; build\cocm-desktop.iss and compiles that with ISCC.exe. Result: dist\cocm-desktop-<version>-setup.exe.
;
; What it installs: the one-folder PyInstaller bundle (dist\cocm-desktop\) into Program Files
; (or the user's own Programs folder when installed "for me only"), a Start-menu entry, an
; optional desktop icon and an uninstaller (Settings > Apps). It then runs the bundle's
; self-check. Clinic data never lives in the program folder: databases, key files and backups
; stay in the user's data folder (%LOCALAPPDATA%\cocm-desktop) or wherever the clinic keeps them.
; Upgrades replace program files only; the uninstaller removes program files only and asks
; (default: No) before it would delete the data folder.

#define AppName "CoCM Desktop"
#define AppId "cocm-desktop"
#define AppVersion "@APP_VERSION@"
#define AppVersionNumeric "@APP_VERSION_NUMERIC@"
#define AppExe "cocm-desktop.exe"
#define AppCli "cocm-desktop-cli.exe"
#define DistDir "@DIST_DIR@"
#define OutputDir "@OUTPUT_DIR@"
#define IconFile "@ICON_FILE@"
#define DataFolder "cocm-desktop"

[Setup]
; AppId never changes between versions: it is how an upgrade finds the installed copy.
AppId={{03AA4003-829B-49A4-BC0E-83F06F203563}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
AppComments=Offline collaborative care management for primary-care clinics
VersionInfoVersion={#AppVersionNumeric}
VersionInfoProductName={#AppName}
VersionInfoDescription={#AppName} setup
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Installed for all users by IT by default; a user without admin rights can install for themselves.
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename={#AppId}-{#AppVersion}-setup
SetupIconFile={#IconFile}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; A running copy holds the clinic database open: ask to close it before files are replaced.
CloseApplications=yes
RestartApplications=no
SetupLogging=yes
Uninstallable=yes
UninstallDisplayName={#AppName} {#AppVersion}
UninstallDisplayIcon={app}\{#AppExe}

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the program's own library folder whole (no stale modules from the old
; version). Only inside {app}; never the data folder.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Comment: "Collaborative care management"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Program folder only (left-overs such as an empty folder). The data folder is handled in [Code].
Type: dirifempty; Name: "{app}"

[Code]
function SelfCheckFailureLine(LogFile: String): String;
var
  Lines: TArrayOfString;
  I: Integer;
begin
  Result := '';
  if LoadStringsFromFile(LogFile, Lines) then
    for I := 0 to GetArrayLength(Lines) - 1 do
      if Pos('FAILED', Lines[I]) = 1 then
        Result := Lines[I];
end;

procedure CurStepChanged(CurStep: TSetupStep);
var
  ResultCode: Integer;
  LogFile, Detail: String;
begin
  if CurStep <> ssPostInstall then
    exit;
  { Prove the installed copy is whole: encryption, migrations, PDF, Qt (no clinic data involved). }
  LogFile := ExpandConstant('{tmp}\self-check.txt');
  if Exec(ExpandConstant('{cmd}'),
          '/C ""' + ExpandConstant('{app}\{#AppCli}') + '" --self-check > "' + LogFile + '" 2>&1"',
          ExpandConstant('{app}'), SW_HIDE, ewWaitUntilTerminated, ResultCode) and (ResultCode = 0) then
    Log('Self-check passed.')
  else
  begin
    Detail := SelfCheckFailureLine(LogFile);
    Log('Self-check failed: ' + Detail);
    SuppressibleMsgBox('{#AppName} was installed, but its self-check failed:' + #13#10#13#10 + Detail +
      #13#10#13#10 + 'Do not use it with clinic data until this is fixed. Run "' +
      ExpandConstant('{app}\{#AppCli}') + ' --self-check" for details, or call your IT support.',
      mbError, MB_OK, IDOK);
  end;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  { Clinic databases, key files and backups are never removed without asking; a silent
    uninstall never removes them. Default answer: No. }
  DataDir := ExpandConstant('{localappdata}\{#DataFolder}');
  if (not DirExists(DataDir)) or UninstallSilent then
    exit;
  if MsgBox('{#AppName} has been removed, but your data folder was kept:' + #13#10#13#10 + DataDir +
            #13#10#13#10 + 'It can hold clinic databases, their key files and backups.' + #13#10#13#10 +
            'Delete this folder too? This cannot be undone. Choose No unless the clinic data has been ' +
            'backed up or moved elsewhere.', mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
  begin
    if not DelTree(DataDir, True, True, True) then
      MsgBox('Some files in ' + DataDir + ' could not be deleted (perhaps still open). Remove them by hand.',
             mbInformation, MB_OK);
  end;
end;

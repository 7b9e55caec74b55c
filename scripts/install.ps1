# Installs credagent from its Windows release archive for the current user: the binary into
# %LOCALAPPDATA%\credagent\bin, which is added to the user's PATH. Run from the unpacked archive:
#   powershell -ExecutionPolicy Bypass -File install.ps1
$ErrorActionPreference = "Stop"
$bin = Join-Path $env:LOCALAPPDATA "credagent\bin"
New-Item -ItemType Directory -Force -Path $bin | Out-Null
Copy-Item -Force (Join-Path $PSScriptRoot "bin\credagent.exe") (Join-Path $bin "credagent.exe")
$path = [Environment]::GetEnvironmentVariable("Path", "User")
if (-not ($path -split ";" | Where-Object { $_ -eq $bin })) {
  [Environment]::SetEnvironmentVariable("Path", "$path;$bin", "User")
  Write-Host "Added $bin to your PATH (new terminals see it)."
}
& (Join-Path $bin "credagent.exe") version
Write-Host 'Start the agent from your PowerShell profile:  credagent start --powershell | Invoke-Expression'

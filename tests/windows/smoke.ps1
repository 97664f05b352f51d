# Windows smoke test of tun2socks on a real Wintun adapter: creates the adapter with
# --auto-route, fetches a URL with curl through it and the SOCKS5 proxy, stops tun2socks with
# Ctrl-C and checks that the adapter, its routes, the proxy's host route and the route record
# are gone and that the routing table is as before.
#
# It CANNOT run in this project's CI (Debian, wine has no Wintun driver or IP Helper routing):
# run it by hand on Windows 10 or later, 64-bit, in an elevated PowerShell (Administrator),
# with tun2socks.exe and wintun.dll (https://www.wintun.net) side by side, curl.exe (part of
# Windows 10 1803+) and a SOCKS5 proxy that can reach -Url. Use a test machine or VM: for the
# duration of the test all of its traffic goes through the proxy.
#
#   .\smoke.ps1 -Exe C:\t2s\tun2socks.exe -Proxy socks5://192.0.2.2:1080 -Url http://192.0.2.80/
#
# Exit code 0 when every check passed; each failure is printed.
param(
  [Parameter(Mandatory = $true)][string]$Exe,
  [Parameter(Mandatory = $true)][string]$Proxy,
  [Parameter(Mandatory = $true)][string]$Url,
  [string]$Device = "t2s-smoke",
  [int]$TimeoutSeconds = 30
)
$ErrorActionPreference = "Stop"
$failures = @()
function Check([bool]$ok, [string]$what) {
  if ($ok) { Write-Host "ok   $what" } else { Write-Host "FAIL $what"; $script:failures += $what }
}

$principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  throw "run this in an elevated PowerShell (Administrator)"
}
if (-not (Test-Path (Join-Path (Split-Path $Exe) "wintun.dll"))) {
  throw "wintun.dll must be beside $Exe (download it from https://www.wintun.net)"
}
if (Get-NetAdapter -Name $Device -ErrorAction SilentlyContinue) {
  throw "an adapter named $Device exists already; pick another -Device"
}

function RouteSnapshot {
  Get-NetRoute -ErrorAction SilentlyContinue |
    ForEach-Object { "$($_.DestinationPrefix) $($_.NextHop) $($_.InterfaceIndex)" } | Sort-Object
}
$routesBefore = RouteSnapshot
$stateFile = Join-Path $env:ProgramData "tun2socks\routes.txt"

$log = Join-Path $env:TEMP "t2s-smoke-$PID.log"
$errLog = "$log.err"
$process = Start-Process -FilePath $Exe -PassThru -WindowStyle Minimized `
  -RedirectStandardOutput $log -RedirectStandardError $errLog `
  -ArgumentList @("--proxy", $Proxy, "--device", $Device, "--auto-route", "--address6", "none")
try {
  $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
  while ((Get-Date) -lt $deadline -and -not $process.HasExited -and
         -not (Select-String -Path $errLog, $log -Pattern "ready:" -Quiet -ErrorAction SilentlyContinue)) {
    Start-Sleep -Milliseconds 200
  }
  Check (-not $process.HasExited) "tun2socks is running"
  Check ([bool](Get-NetAdapter -Name $Device -ErrorAction SilentlyContinue)) "adapter $Device exists"
  $halves = Get-NetRoute -InterfaceAlias $Device -ErrorAction SilentlyContinue |
    Where-Object { $_.DestinationPrefix -in @("0.0.0.0/1", "128.0.0.0/1") }
  Check (@($halves).Count -eq 2) "0.0.0.0/1 and 128.0.0.0/1 point into $Device"
  Check (Test-Path $stateFile) "route record $stateFile exists"

  $code = & curl.exe --silent --output NUL --write-out "%{http_code}" --max-time 20 $Url
  Check ($code -match "^[23]\d\d$") "curl $Url through the tunnel answered (HTTP $code)"
} finally {
  # Ctrl-C as a user would press it: a helper attaches to tun2socks' console and sends the event
  # (it ignores the event itself; this PowerShell is not attached to that console).
  if (-not $process.HasExited) {
    $sender = @"
Add-Type -Namespace W -Name C -MemberDefinition '
[DllImport("kernel32.dll")] public static extern bool AttachConsole(uint p);
[DllImport("kernel32.dll")] public static extern bool FreeConsole();
[DllImport("kernel32.dll")] public static extern bool SetConsoleCtrlHandler(System.IntPtr h, bool add);
[DllImport("kernel32.dll")] public static extern bool GenerateConsoleCtrlEvent(uint e, uint g);'
[W.C]::FreeConsole() | Out-Null
[W.C]::AttachConsole($($process.Id)) | Out-Null
[W.C]::SetConsoleCtrlHandler([System.IntPtr]::Zero, `$true) | Out-Null
[W.C]::GenerateConsoleCtrlEvent(0, 0) | Out-Null
Start-Sleep -Milliseconds 500
"@
    Start-Process powershell -Wait -WindowStyle Hidden -ArgumentList @("-NoProfile", "-Command", $sender)
    if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
      Check $false "tun2socks stopped on Ctrl-C"
      Stop-Process -Id $process.Id -Force
    }
  }
}
$process.WaitForExit()
$output = (Get-Content $log, $errLog -ErrorAction SilentlyContinue) -join "`n"
Check ($process.ExitCode -eq 0) "tun2socks exited with 0 (got $($process.ExitCode))"
Check ($output -match "received Ctrl-C") "tun2socks logged the Ctrl-C"
Check ($output -match "tcp_opened=[1-9]") "the counters show the relayed connection"
Check (-not (Get-NetAdapter -Name $Device -ErrorAction SilentlyContinue)) "adapter $Device is gone"
Check (-not (Test-Path $stateFile)) "route record is gone"
$diff = Compare-Object @($routesBefore) @(RouteSnapshot)
Check ($null -eq $diff) "routing table as before$(if ($diff) { ': ' + ($diff | Out-String) })"

if ($failures.Count -gt 0) {
  Write-Host "$($failures.Count) check(s) failed; tun2socks output: $log, $errLog"
  exit 1
}
Remove-Item $log, $errLog -ErrorAction SilentlyContinue
Write-Host "all checks passed"

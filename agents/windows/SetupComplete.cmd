@echo off
rem Runs the Aether-V guest agent installer from the provisioning ISO (copied here by the answer file).
for %%d in (D E F G H I J K L M N O P Q R S T U V W X Y Z) do (
    if exist "%%d:\aetherv\Install-AetherVGuestAgent.ps1" (
        powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "%%d:\aetherv\Install-AetherVGuestAgent.ps1"
        goto installed
    )
)
:installed
if exist "%~dp0SetupComplete.aetherv-original.cmd" call "%~dp0SetupComplete.aetherv-original.cmd"

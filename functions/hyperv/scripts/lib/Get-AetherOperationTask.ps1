function Get-AetherOperationTask([string]$Id) {
    # The scheduled task \Aether-V\<id> that runs background operation $Id, or $null.
    return (Get-ScheduledTask -TaskPath '\Aether-V\' -TaskName $Id -ErrorAction SilentlyContinue)
}

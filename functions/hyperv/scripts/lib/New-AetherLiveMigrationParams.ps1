function New-AetherLiveMigrationParams {
    # The property list MoveClusterGroupEx (MSCluster_ResourceGroup.MoveToNewNodeParams) takes to live-migrate a VM
    # role: for the "Virtual Machine" and "Virtual Machine Configuration" resources, a CLUSPROP_SYNTAX_LIST_VALUE_DWORD
    # of 4 (live migration). Layout as OpenStack os-win builds it (os_win/utils/compute/_clusapi_utils.py): a DWORD
    # count, then per property a name value (syntax 0x00040003, byte length, UTF-16 name with its NUL, padded to 4
    # bytes), a DWORD value (syntax 0x00010002, length 4, value) and an end mark (0).
    $stream = New-Object System.IO.MemoryStream
    $writer = New-Object System.IO.BinaryWriter $stream
    $names = @('Virtual Machine', 'Virtual Machine Configuration')
    $writer.Write([uint32]$names.Count)
    foreach ($name in $names) {
        $bytes = [System.Text.Encoding]::Unicode.GetBytes($name + [char]0)
        $writer.Write([uint32]0x00040003)
        $writer.Write([uint32]$bytes.Length)
        $writer.Write($bytes)
        for ($pad = $bytes.Length; $pad % 4 -ne 0; $pad++) { $writer.Write([byte]0) }
        $writer.Write([uint32]0x00010002)
        $writer.Write([uint32]4)
        $writer.Write([uint32]4)
        $writer.Write([uint32]0)
    }
    $writer.Flush()
    return ,$stream.ToArray()
}

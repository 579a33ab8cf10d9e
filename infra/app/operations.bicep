// Operating Aether-V: an Azure Monitor workbook and alert rules over the telemetry the app emits (docs/operations.md).
// Every metric, span and attribute name queried here is one the app defines in functions/telemetry/names.py
// (tests/infra/test_operations.py checks it). In Application Insights, OpenTelemetry metrics land in customMetrics
// (a counter's value is the delta of its export interval; a histogram's value is the sum, valueCount the count) and
// span attributes / metric dimensions in customDimensions.
param appInsightsId string
param location string
param tags object

@description('E-mail address the alerts are sent to (empty: the action group has no receiver).')
param alertEmail string = ''

@description('Minutes a host must stay unreachable before the "host disconnected" alert fires.')
@allowed([5, 10, 15, 30, 45])
param hostDisconnectedMinutes int = 15

@description('Percentage of jobs ending Failed within an hour above which the failure-rate alert fires.')
@minValue(1)
@maxValue(100)
param jobFailureRatePercent int = 20

@description('Fewest finished jobs in the hour before the failure rate is judged.')
@minValue(1)
param jobFailureMinimumJobs int = 3

@description('Minutes since a host last synced successfully after which its inventory counts as stale.')
@minValue(5)
@maxValue(1440)
param inventoryStaleMinutes int = 30

var hostDisconnectedQuery = 'customMetrics | where name == "aetherv.host.connected" | extend host = tostring(customDimensions["host"]) | summarize connected = max(value), samples = count() by host | where connected == 0'
var jobFailureQuery = 'customMetrics | where name == "aetherv.jobs.completed" | extend status = tostring(customDimensions["status"]) | summarize total = sum(value), failed = sumif(value, status == "Failed") | where total >= ${jobFailureMinimumJobs} | extend failure_rate = 100.0 * failed / total | where failure_rate > ${jobFailureRatePercent}'
var inventoryStaleQuery = 'customMetrics | where name == "aetherv.inventory.sync.duration" | extend host = tostring(customDimensions["host"]), outcome = tostring(customDimensions["outcome"]) | summarize last_ok = maxif(timestamp, outcome == "ok") by host | where isnull(last_ok) or last_ok < ago(${inventoryStaleMinutes}m) | extend stale_minutes = iif(isnull(last_ok), -1, datetime_diff("minute", now(), last_ok))'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-aetherv-operators'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'aetherv-ops'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource hostDisconnected 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-aetherv-host-disconnected'
  location: location
  tags: tags
  properties: {
    displayName: 'Aether-V: Hyper-V host disconnected'
    description: 'Every inventory sync of the host failed to reach it for ${hostDisconnectedMinutes} minutes (metric aetherv.host.connected stayed 0). See docs/operations.md.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT${hostDisconnectedMinutes}M'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: hostDisconnectedQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'host'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource jobFailureRate 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-aetherv-job-failure-rate'
  location: location
  tags: tags
  properties: {
    displayName: 'Aether-V: job failure rate'
    description: 'More than ${jobFailureRatePercent} % of the jobs that finished in the last hour failed (metric aetherv.jobs.completed, at least ${jobFailureMinimumJobs} jobs). See docs/operations.md.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: jobFailureQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource inventoryStale 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-aetherv-inventory-stale'
  location: location
  tags: tags
  properties: {
    displayName: 'Aether-V: inventory stale'
    description: 'A host synced in the last 6 hours has had no successful inventory sync for ${inventoryStaleMinutes} minutes (metric aetherv.inventory.sync.duration, outcome ok). See docs/operations.md.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT6H'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: inventoryStaleQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'host'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

var workbookContent = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      name: 'title'
      content: {
        json: '## Aether-V operations\nJobs, steps, hosts and the inventory, from the app\'s OpenTelemetry metrics and spans. Where to look when a job fails: docs/operations.md.'
      }
    }
    {
      type: 3
      name: 'jobs-over-time'
      content: {
        version: 'KqlItem/1.0'
        title: 'Jobs finished per hour, by status'
        query: 'customMetrics | where name == "aetherv.jobs.completed" | extend status = tostring(customDimensions["status"]) | summarize jobs = sum(value) by status, bin(timestamp, 1h)'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'jobs-started'
      content: {
        version: 'KqlItem/1.0'
        title: 'Jobs started per hour, by kind'
        query: 'customMetrics | where name == "aetherv.jobs.started" | extend kind = tostring(customDimensions["kind"]) | summarize jobs = sum(value) by kind, bin(timestamp, 1h)'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'job-duration'
      content: {
        version: 'KqlItem/1.0'
        title: 'Average job duration (s), by kind'
        query: 'customMetrics | where name == "aetherv.job.duration" | extend kind = tostring(customDimensions["kind"]) | summarize seconds = sum(value) / sum(valueCount) by kind, bin(timestamp, 1h)'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'failures-by-step-and-host'
      content: {
        version: 'KqlItem/1.0'
        title: 'Failed steps, by step and host'
        query: 'customMetrics | where name == "aetherv.step.duration" | extend step = tostring(customDimensions["step"]), host = tostring(customDimensions["host"]), status = tostring(customDimensions["status"]) | where status == "Failed" | summarize failures = sum(valueCount) by step, host | order by failures desc'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'table'
      }
    }
    {
      type: 3
      name: 'failed-activities'
      content: {
        version: 'KqlItem/1.0'
        title: 'Failed activities (search a job id in Transaction search)'
        query: 'dependencies | where name startswith "activity " and success == false | project timestamp, name, job = tostring(customDimensions["aetherv.job_id"]), host = tostring(customDimensions["aetherv.host"]), category = tostring(customDimensions["aetherv.error_category"]) | order by timestamp desc | take 50'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'table'
      }
    }
    {
      type: 3
      name: 'host-connectivity'
      content: {
        version: 'KqlItem/1.0'
        title: 'Host connectivity (1 connected, 0 unreachable)'
        query: 'customMetrics | where name == "aetherv.host.connected" | extend host = tostring(customDimensions["host"]) | summarize connected = min(value) by host, bin(timestamp, 15m)'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'sync-duration'
      content: {
        version: 'KqlItem/1.0'
        title: 'Inventory sync duration per host (s)'
        query: 'customMetrics | where name == "aetherv.inventory.sync.duration" | extend host = tostring(customDimensions["host"]) | summarize seconds = sum(value) / sum(valueCount) by host, bin(timestamp, 15m)'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'inventory-age'
      content: {
        version: 'KqlItem/1.0'
        title: 'Inventory age per host (s)'
        query: 'customMetrics | where name == "aetherv.inventory.age" | extend host = tostring(customDimensions["host"]) | summarize seconds = max(value) by host, bin(timestamp, 15m)'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
      }
    }
    {
      type: 3
      name: 'winrm-errors'
      content: {
        version: 'KqlItem/1.0'
        title: 'WinRM errors and round trips, by host'
        query: 'customMetrics | where name in ("aetherv.winrm.errors", "aetherv.winrm.round_trips") | extend host = tostring(customDimensions["host"]) | summarize errors = sumif(value, name == "aetherv.winrm.errors"), round_trips = sumif(value, name == "aetherv.winrm.round_trips") by host'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'table'
      }
    }
    {
      type: 3
      name: 'guest-waits'
      content: {
        version: 'KqlItem/1.0'
        title: 'Guest wait times (s), by step'
        query: 'customMetrics | where name == "aetherv.guest.wait.duration" | extend step = tostring(customDimensions["step"]) | summarize seconds = sum(value) / sum(valueCount) by step, bin(timestamp, 1h)'
        size: 0
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: 'timechart'
      }
    }
  ]
  fallbackResourceIds: [
    appInsightsId
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'aetherv-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Aether-V operations'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string(workbookContent)
  }
}

output workbookId string = workbook.id
output actionGroupId string = actionGroup.id

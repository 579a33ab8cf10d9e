// Example: a Consumption Logic App that Event Grid calls for every `io.aetherv.job.failed` event of the app's topic,
// and that posts a short message (job, kind, failed step, error, cleanup) to a chat or ticketing webhook. Deploy it
// into the resource group of the topic (azd output AETHERV_EVENTGRID_TOPIC):
//
//   az deployment group create -g <rg> -f infra/examples/logicapp-job-failed.bicep \
//     -p topicName=<AETHERV_EVENTGRID_TOPIC> notifyUrl=<incoming webhook URL>
//
// The subscription delivers CloudEvents 1.0, so Event Grid first checks the endpoint with the CloudEvents
// abuse-protection handshake (an HTTP OPTIONS carrying WebHook-Request-Origin); the workflow answers it with
// WebHook-Allowed-Origin, then receives each event as a POST.
@description('Workflow name.')
param name string = 'logic-aetherv-job-failed'

@description('Region of the workflow.')
param location string = resourceGroup().location

@description('The Aether-V Event Grid topic (in this resource group).')
param topicName string

@secure()
@description('Where the message is posted (e.g. a Teams or Slack incoming webhook URL).')
param notifyUrl string

resource topic 'Microsoft.EventGrid/topics@2022-06-15' existing = {
  name: topicName
}

resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  properties: {
    state: 'Enabled'
    parameters: {
      notifyUrl: {
        value: notifyUrl
      }
    }
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        notifyUrl: {
          type: 'SecureString'
        }
      }
      triggers: {
        // Any method: OPTIONS for the handshake, POST for an event.
        manual: {
          type: 'Request'
          kind: 'Http'
          inputs: {}
        }
      }
      actions: {
        Handshake_or_event: {
          type: 'If'
          expression: {
            and: [
              {
                equals: [
                  '@triggerOutputs()?[\'headers\']?[\'WebHook-Request-Origin\']'
                  null
                ]
              }
            ]
          }
          // An event: tell the people who care, then acknowledge (a failure makes Event Grid retry).
          actions: {
            Notify: {
              type: 'Http'
              inputs: {
                method: 'POST'
                uri: '@parameters(\'notifyUrl\')'
                body: {
                  text: '@{concat(\'Aether-V job \', triggerBody()?[\'data\']?[\'job\']?[\'id\'], \' (\', triggerBody()?[\'data\']?[\'job\']?[\'kind\'], \') failed at step \', coalesce(triggerBody()?[\'data\']?[\'job\']?[\'failed_step\'], \'-\'), \': \', triggerBody()?[\'data\']?[\'job\']?[\'error\']?[\'message\'], \'. Cleanup: \', coalesce(triggerBody()?[\'data\']?[\'job\']?[\'cleanup\']?[\'status\'], \'none\'))}'
                }
              }
              runtimeConfiguration: {
                secureData: {
                  properties: [
                    'inputs'
                  ]
                }
              }
            }
            Acknowledge: {
              type: 'Response'
              kind: 'Http'
              runAfter: {
                Notify: [
                  'Succeeded'
                ]
              }
              inputs: {
                statusCode: 200
              }
            }
          }
          // The CloudEvents handshake: allow the origin that asks.
          else: {
            actions: {
              Allow_origin: {
                type: 'Response'
                kind: 'Http'
                inputs: {
                  statusCode: 200
                  headers: {
                    'WebHook-Allowed-Origin': '@{triggerOutputs()?[\'headers\']?[\'WebHook-Request-Origin\']}'
                    'WebHook-Allowed-Rate': '*'
                  }
                }
              }
            }
          }
          runAfter: {}
        }
      }
    }
  }
}

resource subscription 'Microsoft.EventGrid/topics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'job-failed-to-logic-app'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: [
        'io.aetherv.job.failed'
      ]
    }
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: listCallbackUrl('${workflow.id}/triggers/manual', '2019-05-01').value
      }
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

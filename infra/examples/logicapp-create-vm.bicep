// Example: a Consumption Logic App that creates a VM through the Aether-V API with its managed identity and waits
// for the job to finish through the API's asynchronous 202/Location contract. Deploy it into any resource group:
//
//   az deployment group create -g <rg> -f infra/examples/logicapp-create-vm.bicep \
//     -p apiBaseUrl=<AETHERV_API_BASE_URL> apiAudience=<AETHERV_API_APP_ID_URI>
//
// then grant its identity the Aether.Operator app role (README.md beside this file).
@description('Workflow name.')
param name string = 'logic-aetherv-create-vm'

@description('Region of the workflow.')
param location string = resourceGroup().location

@description('The API base URL, e.g. https://func-api-abc123.azurewebsites.net/api/v1 (azd output AETHERV_API_BASE_URL).')
param apiBaseUrl string

@description('Audience of the API tokens: the API\'s Application ID URI (azd output AETHERV_API_APP_ID_URI), exactly as the API accepts it.')
param apiAudience string

@description('How long the workflow waits for the job, as an ISO 8601 duration.')
param jobTimeout string = 'PT2H'

resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    parameters: {
      apiBaseUrl: {
        value: apiBaseUrl
      }
      apiAudience: {
        value: apiAudience
      }
    }
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        apiBaseUrl: {
          type: 'String'
        }
        apiAudience: {
          type: 'String'
        }
      }
      triggers: {
        // POST the VM request (the API's JSON contract) to the trigger's callback URL, or "Run with payload".
        manual: {
          type: 'Request'
          kind: 'Http'
          inputs: {
            method: 'POST'
            schema: {
              type: 'object'
              required: [
                'name'
                'cpu_cores'
                'memory_gb'
              ]
              properties: {
                name: {
                  type: 'string'
                }
                host: {
                  type: 'string'
                }
                image: {
                  type: 'string'
                }
                cpu_cores: {
                  type: 'integer'
                }
                memory_gb: {
                  type: 'integer'
                }
                disk_gb: {
                  type: 'integer'
                }
                network: {
                  type: 'string'
                }
                guest: {
                  type: 'object'
                }
              }
            }
          }
          // The request may carry guest passwords: keep it out of the run history.
          runtimeConfiguration: {
            secureData: {
              properties: [
                'outputs'
              ]
            }
          }
        }
      }
      actions: {
        // 202 + Location: /api/v1/jobs/{id} + Retry-After starts the engine's polling; the action ends Succeeded on
        // the job's 200 and Failed on its 4xx/5xx problem+json.
        Create_VM: {
          type: 'Http'
          runAfter: {}
          inputs: {
            method: 'POST'
            uri: '@{parameters(\'apiBaseUrl\')}/vms'
            headers: {
              'Content-Type': 'application/json'
            }
            body: '@triggerBody()'
            authentication: {
              type: 'ManagedServiceIdentity'
              audience: '@parameters(\'apiAudience\')'
            }
            // Creating a VM is not idempotent: never resend the POST on a 5xx or 429.
            retryPolicy: {
              type: 'none'
            }
          }
          limit: {
            timeout: jobTimeout
          }
          runtimeConfiguration: {
            secureData: {
              properties: [
                'inputs'
              ]
            }
          }
        }
        Job_result: {
          type: 'Compose'
          runAfter: {
            Create_VM: [
              'Succeeded'
            ]
          }
          inputs: '@body(\'Create_VM\')'
        }
        Job_failed: {
          type: 'Terminate'
          runAfter: {
            Create_VM: [
              'Failed'
              'TimedOut'
            ]
          }
          inputs: {
            runStatus: 'Failed'
            runError: {
              code: '@{outputs(\'Create_VM\')?[\'statusCode\']}'
              message: '@{body(\'Create_VM\')?[\'title\']}: @{body(\'Create_VM\')?[\'detail\']}'
            }
          }
        }
      }
      outputs: {}
    }
  }
}

output name string = workflow.name
@description('Object id of the workflow\'s managed identity: assign it the Aether.Operator app role.')
output principalId string = workflow.identity.principalId

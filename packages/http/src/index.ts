export { listenHttp, type HttpServer } from './server.js';
export {
  HttpProblem,
  PROBLEM_CONTENT_TYPE,
  problemFromRequestError,
  sendProblem,
  type ProblemDocument,
  type ProblemOptions,
} from './problem.js';
export {
  bearerCredentials,
  fieldProblems,
  jsonBody,
  noRoute,
  parseBody,
  problemFor,
  problemHandler,
  resource,
  SINGLETON_REQUEST_HEADERS,
  singletonHeaders,
  textField,
  type BearerCredentials,
  type FieldProblem,
} from './edge.js';
export {
  ANY_REQUEST_STATUSES,
  edgeProblems,
  operationalPaths,
  problemResponses,
  problemSchema,
  responseHeader,
  type Problem,
} from './openapi.js';
export { requestMetrics, routeOf, UNMATCHED_ROUTE } from './metrics.js';
